"""The table of docs/own_data.md from the ``measure_*.json`` files written by diagnose.py.

    python docs/own_data/table.py RUN/measure_ckpt_200.json ...
"""

import json
import sys
from pathlib import Path

HEAD = ("| run | step | L1/frame model | mean frame | median (=black) | foreground L1/px model / median | "
        "brightest recon / generated (of 255) | generated spread | KL/frame (nats) | dims > 0.01 nats | "
        "decoder std over clips | grad norm decoder / encoder |")


def row(path: Path) -> str:
    m = json.loads(path.read_text())
    l1 = m["l1"]
    return (f"| {path.parent.name} | {m['step']} | {l1['model']['per_frame']:.1f} | {l1['mean_frame']['per_frame']:.1f} | "
            f"{l1['median_frame']['per_frame']:.1f} | {l1['model']['foreground_per_pixel']:.3f} / "
            f"{l1['median_frame']['foreground_per_pixel']:.3f} | {m['brightest_255']['reconstruction']} / "
            f"{m['brightest_255']['generated']} | {m['generated_spread']:.3f} | {m['kl_per_frame']:.1f} | "
            f"{m['active_dims_kl_gt_0.01']}/{m['latent_dim']} | {m['decoder_output']['std_over_clips']:.4f} | "
            f"{m['grad_norms'].get('decoder', float('nan')):.0f} / {m['grad_norms'].get('encoder', float('nan')):.1f} |")


if __name__ == "__main__":
    print(HEAD)
    print("|" + "---|" * HEAD.count(" | ") + "---|")
    for name in sys.argv[1:]:
        print(row(Path(name)))

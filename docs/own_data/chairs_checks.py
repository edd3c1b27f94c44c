"""The demo's two checks (rotation direction, nearest chair; ``videovae.engine.demo``) on any checkpoint trained
on the built-in chairs, with the demo's sample strips, so a run of ``videovae train`` is judged as the demo is.

    PYTHONPATH=$PWD python docs/own_data/chairs_checks.py RUN/checkpoint.pt --out FOLDER
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from videovae.engine.checkpoint import load_checkpoint
from videovae.engine.data import load_dataset
from videovae.engine.demo import SHOWN_CHAIRS, sample_and_check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--out", required=True)
    parser.add_argument("--shown", type=int, default=SHOWN_CHAIRS, help="test chairs sampled (each in both rotations)")
    args = parser.parse_args()
    loaded = load_checkpoint(args.checkpoint)
    info = loaded.checkpoint.dataset
    dataset = load_dataset(info.name, info.root, dict(info.options))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    checks = sample_and_check(loaded.model, dataset, loaded.label_table, Path(args.out), shown=args.shown)
    result = {"checkpoint": args.checkpoint, "step": loaded.step, "checks": checks}
    text = json.dumps(result, indent=1)
    print(text)
    (Path(args.out) / "checks.json").write_text(text + "\n")


if __name__ == "__main__":
    main()

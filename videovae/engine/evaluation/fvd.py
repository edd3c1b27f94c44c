"""FVD in an evaluation (:mod:`videovae.plugins.metrics.fvd`): the real reference, each row's score, the noise floor.

* The real reference is the bound's clips: ``videos_per_class`` real test clips of each joint class
  (``protocol.length`` frames, :func:`~.protocol.balanced_test_indices`), featurised once.
* Each generated set (mode i or iv, and the reconstruction and shuffled-frames rows) is scored against it
  as it is: whole clips, so in mode iv the given (real) first frame counts.
* The Bound row's FVD is the noise floor: the FVD between the even and the odd positions of the bound's
  clips (half of each class each), i.e. of real clips against real clips at half the set size. FVD is
  biased upwards for small sets, so a model's FVD at the full set size can even come out below it.

FVD is opt-in (``EvalOptions.fvd``, ``--fvd``): on a CPU core the I3D costs seconds per clip
(docs/fvd.md). Without the weights the evaluation still runs; its FVD column reads "n/a" and one line
under the table says how to get them.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from ...core.errors import ConfigError
from ...plugins.metrics.fvd import FVDOptions, frechet_distance, gaussian, i3d_features, shared_i3d
from .protocol import EvalProtocol

#: the version of the FVD part of the evaluation protocol
FVD_PROTOCOL_VERSION = 1
ENABLE = "pass --fvd (EvalOptions(fvd=True)) to compute FVD"


class FVDScorer:
    """FVD of generated sets against the featurised real reference ``real [M, T, C, H, W]``."""

    def __init__(self, net, real: Tensor, options: FVDOptions = FVDOptions()):
        self.net, self.options = net, options
        self.real_features = i3d_features(real, net, options)
        self.real_gaussian = gaussian(self.real_features)

    def score(self, videos: Tensor) -> dict[str, Any]:
        features = i3d_features(videos, self.net, self.options)
        return {"fvd": frechet_distance(*gaussian(features), *self.real_gaussian), "fvd_clips": int(features.shape[0])}

    def noise_floor(self) -> dict[str, Any]:
        """FVD of the even against the odd positions of the reference (the bound's clips, ordered by class)."""
        even, odd = self.real_features[0::2], self.real_features[1::2]
        return {"fvd": frechet_distance(*gaussian(even), *gaussian(odd)), "fvd_clips": int(odd.shape[0]),
                "fvd_note": "real test clips, even against odd halves (the noise floor)"}


def fvd_protocol(protocol: EvalProtocol, options: FVDOptions, weights: str) -> dict[str, Any]:
    """What the FVD column measured, stored in ``EvalProtocol.fvd``."""
    return {"version": FVD_PROTOCOL_VERSION, **options.protocol(), "length": protocol.length,
            "conditioning_frames_count": True, "seed": protocol.seed, "weights": weights,
            "generated": "each row's set (videos_per_class per joint class)",
            "real": "the bound's clips (videos_per_class real test clips per joint class)",
            "noise_floor": "Bound row: even against odd halves of the bound's clips"}


def build_scorer(real: Tensor, checkpoint: str | None, options: FVDOptions,
                 log: Callable[[str], None] | None = None) -> tuple[FVDScorer | None, str | None, str | None]:
    """``(scorer, weights, note)``: a scorer and where its weights came from, or ``(None, None, note)`` with a
    one-line note when the I3D weights are absent."""
    from ...plugins.metrics.i3d import find_checkpoint

    from ...plugins.metrics.i3d.convert import sha256

    try:
        source = find_checkpoint(checkpoint)
        net = shared_i3d(str(source), log=log)
    except ConfigError as exc:
        return None, None, f"FVD n/a: {str(exc).splitlines()[0]}"
    if log is not None:
        log(f"FVD: I3D features of {len(real)} real test clips (docs/fvd.md has the cost)")
    with torch.no_grad():
        return FVDScorer(net, real, options), f"{source.name} (sha256 {sha256(source)[:16]})", None

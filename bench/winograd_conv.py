"""Winograd F(2x2, 3x3) in TensorFlow ops against the direct 3x3 convolution (oneDNN).

Issue 33's last idea for the paper-sized decoder's float32 speed: its four fuse convolutions
(3x3, "same") carry about half of the products, and Winograd's F(2x2, 3x3) needs 16 products
per 2x2 output tile instead of 36 (2.25x fewer). TensorFlow has no Winograd kernel on CPU, so
the transforms here are TensorFlow ops: the padded input cut into overlapping 4x4 tiles by
even/odd reshapes, B^T d B and A^T M A as sums of those slices, and the products as 16 batched
matmuls of [tiles, C] x [C, F].

For each fuse convolution of the paper's decoder at a 25-frame chunk (the frame half each
frame computes), one thread, every form timed round-robin in the same rounds (median):
the direct convolution, the Winograd form, its 16 matmuls alone (the least it could take),
and the largest difference between the two forms' outputs.

    python bench/winograd_conv.py [--rounds 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from speed_common import where

from lipsync_tf.config import IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig

FRAMES = 25
# Winograd F(2, 3): output = A^T [(G g G^T) * (B^T d B)] A for a 4x4 input tile d.
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float32)


def _tiles_along(x: tf.Tensor, axis: int) -> list[tf.Tensor]:
    """For x of even length L + 2 along `axis` (1 or 2): B^T applied to the overlapping
    4-long windows at stride 2 along it, i.e. four tensors of length L / 2 there."""
    shape = x.shape.as_list()
    pairs = tf.reshape(x, [*shape[:axis], shape[axis] // 2, 2, *shape[axis + 1 :]])
    even, odd = tf.unstack(pairs, axis=axis + 1)
    n = shape[axis] // 2 - 1
    cut = (lambda t, a, b: t[:, a:b]) if axis == 1 else (lambda t, a, b: t[:, :, a:b])
    d0, d1, d2, d3 = cut(even, 0, n), cut(odd, 0, n), cut(even, 1, n + 1), cut(odd, 1, n + 1)
    return [d0 - d2, d1 + d2, d2 - d1, d1 - d3]  # the rows of B^T


def winograd_conv(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """tf.nn.conv2d(x, kernel, 1, "SAME") for a 3x3 kernel and even height and width."""
    frames, height, width, channels = x.shape
    filters = kernel.shape[-1]
    u = tf.reshape(tf.einsum("iy,yxcf,jx->ijcf", G, kernel, G), [16, channels, filters])
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    v = [part for rows in _tiles_along(padded, 1) for part in _tiles_along(rows, 2)]
    v = tf.reshape(tf.stack(v), [16, -1, channels])
    m = tf.reshape(tf.linalg.matmul(v, u), [4, 4, frames, height // 2, width // 2, filters])
    top, bottom = m[0] + m[1] + m[2], m[1] - m[2] - m[3]  # A^T over rows
    rows = [
        tf.stack([r[0] + r[1] + r[2], r[1] - r[2] - r[3]], axis=3)  # A over columns
        for r in (top, bottom)
    ]
    return tf.reshape(tf.stack(rows, axis=2), [frames, height, width, filters])


def fuse_conv_shapes(config: ModelConfig) -> list[tuple[int, int, int]]:
    """(height, width, channels) of each fuse conv's frame half, channels in = out."""
    filters = config.decoder_filters
    stages = len(filters) - 1
    return [
        (IMAGE_HEIGHT >> (stages - i), IMAGE_WIDTH >> (stages - i), filters[i + 1])
        for i in range(stages)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    print(where())
    print(f"threads: {args.threads}; {FRAMES} frames per call; median of {args.rounds} rounds")
    columns = ("direct ms", "GFLOP/s", "Winograd ms", "x direct", "matmuls ms", "max diff")
    print("  conv (HxW, C->C)         ", "  ".join(columns))
    rng = np.random.default_rng(0)
    direct = tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"))
    winograd = tf.function(winograd_conv)
    matmuls = tf.function(tf.linalg.matmul)
    for height, width, channels in fuse_conv_shapes(ModelConfig()):
        x = tf.constant(rng.normal(size=(FRAMES, height, width, channels)), tf.float32)
        kernel = tf.constant(rng.normal(size=(3, 3, channels, channels)) * 0.05, tf.float32)
        tiles = tf.constant(
            rng.normal(size=(16, FRAMES * height * width // 4, channels)), tf.float32
        )
        u = tf.constant(rng.normal(size=(16, channels, channels)), tf.float32)
        diff = np.abs(direct(x, kernel).numpy() - winograd(x, kernel).numpy()).max()
        cases = {"direct": (direct, x, kernel), "winograd": (winograd, x, kernel)}
        cases["matmuls"] = (matmuls, tiles, u)
        seconds = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (function, *inputs) in cases.items():
                begin = time.perf_counter()
                function(*inputs).numpy()
                seconds[name].append(time.perf_counter() - begin)
        ms = {name: 1e3 * float(np.median(values)) for name, values in seconds.items()}
        flops = 2 * 9 * FRAMES * height * width * channels * channels
        print(
            f"  {height:3d}x{width:<3d} {channels:4d}->{channels:<4d}        "
            f"{ms['direct']:7.1f}  {flops / ms['direct'] / 1e6:7.0f}  {ms['winograd']:11.1f}"
            f"  {ms['direct'] / ms['winograd']:7.2f}x  {ms['matmuls']:10.1f}  {diff:.1e}"
        )


if __name__ == "__main__":
    main()

"""Where the generator's time goes: a per-part profile of one chunk, next to a plain matmul.

Prints, from one run (every part timed round-robin with a 2048x2048 float32 `tf.matmul`, so
their ratios hold on a busy machine):
  - parameters of each sub-model;
  - per part of the chunked path bin/generate runs (MFCC, audio encoder, noise, each decoder
    stage, normalisation, uint8 conversion; the identity once per still): time per chunk, its
    share, the model's MACs per frame and the GFLOP/s reached, also as a share of the matmul's;
  - the whole chunk function: seconds of compute per second of 25 fps video, and the issue's
    target (twice SDA's speed) scaled to this run's matmul.

The model is freshly initialised unless --model_dir is given (speed does not depend on the
weights).

    python bench/generator_speed.py                          # paper-sized, 25-frame chunks
    python bench/generator_speed.py --config cpu_lipsync --layers
    python bench/generator_speed.py --config tiny --repeats 3
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from speed_common import (
    interleaved_medians,
    matmul_run,
    model_config,
    set_threads,
    speech,
    target_seconds_per_video_second,
    where,
)

from lipsync_tf import cpu
from lipsync_tf.export.contract import CHUNK_FRAMES
from lipsync_tf.export.signatures import GeneratorSignatures, face_to_still, frames_to_uint8
from lipsync_tf.model_dir import build_generator, restore_generator
from lipsync_tf.models.frame_decoder import FrameDecoder
from lipsync_tf.models.generator import MAX_FLOW
from lipsync_tf.models.normalization import GroupNormalization
from lipsync_tf.models.warp import warp_images

NORMALISATION = "normalisation + activation"


@dataclasses.dataclass
class Part:
    group: str
    label: str
    run: Callable[[], object]
    macs: float  # per video frame


def layer_macs(layer, input_shape, output_shape) -> float:
    """Multiply-accumulates of one call of `layer` (all rows of the batch)."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        kh, kw, cout, cin = layer.kernel.shape
        return float(np.prod(input_shape[:-1]) * kh * kw * cin * cout)
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw, cin, cout = layer.kernel.shape
        return float(np.prod(output_shape[:-1]) * kh * kw * cin * cout)
    if isinstance(layer, keras.layers.Dense):
        return float(np.prod(input_shape[:-1]) * layer.kernel.shape[0] * layer.kernel.shape[1])
    return 0.0


def is_normalisation(layer) -> bool:
    return isinstance(
        layer,
        (
            keras.layers.GroupNormalization,
            keras.layers.LayerNormalization,
            keras.layers.ReLU,
            keras.layers.LeakyReLU,
            keras.layers.Activation,
        ),
    )


class Profiler:
    """Runs the chunk path eagerly, one piece at a time, and keeps a timed function per piece."""

    def __init__(self, frames: int):
        self.frames = frames
        self.parts: list[Part] = []

    def step(self, group: str, label: str, fn, *args, macs: float = 0.0):
        compiled = tf.function(fn)
        out = compiled(*args)
        self.parts.append(Part(group, label, lambda: compiled(*args), macs / self.frames))
        return out

    def layers(self, group: str, label: str, layers, x):
        """Times `layers` in runs: each conv/dense alone, each norm + activation run together."""
        index = 0
        while index < len(layers):
            layer = layers[index]
            if is_normalisation(layer):
                run = [layer]
                while index + len(run) < len(layers) and is_normalisation(layers[index + len(run)]):
                    run.append(layers[index + len(run)])
                names = "+".join(item.name for item in run)
                x = self.step(NORMALISATION, f"{label} {names}", _sequence(run), x)
                index += len(run)
                continue
            out = layer(x)
            macs = layer_macs(layer, x.shape, out.shape)
            x = self.step(group, f"{label} {layer.name}", _sequence([layer]), x, macs=macs)
            index += 1
        return x


def _sequence(layers):
    def run(x):
        for layer in layers:
            x = layer(x, training=False)
        return x

    return run


def profile_chunk(generator, signatures: GeneratorSignatures, face, audio, noise) -> Profiler:
    """Every piece of `signatures.generate_chunk_with_noise` on one chunk, in order."""
    frames = noise.shape[0]
    profiler = Profiler(frames)
    mfcc = signatures.mfcc

    def mfcc_fn(audio):
        return mfcc(audio[None], context_included=True)

    windows = profiler.step("MFCC", "MFCC windows", mfcc_fn, audio, macs=_mfcc_macs(mfcc, audio))

    encoder = generator.audio_encoder
    x = tf.reshape(windows, [-1, windows.shape[2], windows.shape[3], 1])
    x = profiler.layers("audio encoder", "audio", encoder.frame_layers, x)
    features = tf.reshape(x, [1, frames, -1])
    state = signatures.unpack_state(tf.zeros([signatures.state_size]))
    gru_macs = _gru_macs(encoder.gru_units, features.shape[-1]) * frames
    audio_code = profiler.step(
        "audio encoder",
        "audio GRUs",
        lambda f: encoder.grus(f, initial_state=state["audio"], training=False),
        features,
        macs=gru_macs,
    )
    noise_gen = generator.noise_generator
    noise_code = profiler.step(
        "noise",
        "noise GRUs",
        lambda n: noise_gen(n, initial_state=state["noise"], training=False),
        noise[None],
        macs=_gru_macs(noise_gen.gru_units, noise.shape[-1]) * frames,
    )
    condition = audio_code
    if generator.mouth_head is not None:
        head = generator.mouth_head
        shape = profiler.step(
            "audio encoder",
            "mouth head",
            lambda a: head(a),
            audio_code,
            macs=layer_macs(head, audio_code.shape, None),
        )
        condition = tf.concat([audio_code, shape], axis=-1)

    identity = generator.encode_identity(face_to_still(face), training=False)
    profile_decoder(profiler, generator, identity, condition, noise_code)
    return profiler


def profile_decoder(profiler: Profiler, generator, identity, condition, noise_code):
    """The frame decoder stage by stage (as `FrameDecoder.decode` runs it), then blending and
    the uint8 conversion."""
    decoder = generator.frame_decoder
    frames = profiler.frames
    code, terms = identity[0], identity[1]
    latent = tf.concat([condition, tf.repeat(code[:, None], frames, axis=1), noise_code], -1)
    latent = tf.reshape(latent, [frames, 1, 1, latent.shape[-1]])
    condition = tf.reshape(condition, [frames, condition.shape[-1]])
    x = profiler.layers("decoder 4x3", "seed", decoder.seed_block, latent)
    for index, (up, fuse, term) in enumerate(
        zip(decoder.up_blocks, decoder.fuse_blocks, terms, strict=True)
    ):
        height, width = x.shape[1] * 2, x.shape[2] * 2
        group, label = f"decoder {height}x{width}", f"stage {index + 1}"
        x = profiler.layers(group, label, up, x)
        conv = fuse[0]
        kernel = conv.kernel[:, :, : x.shape[-1]]
        macs = frames * height * width * 9 * x.shape[-1] * conv.filters
        y = profiler.step(
            group,
            f"{label} {conv.name} (frame half)",
            lambda x, kernel=kernel: tf.nn.conv2d(x, kernel, 1, "SAME"),
            x,
            macs=macs,
        )

        def add_terms(y, term=term, index=index, height=height, width=width):
            y = tf.reshape(y, [tf.shape(term)[0], -1, *y.shape[1:]]) + term[:, None]
            y = tf.reshape(y, [-1, *y.shape[2:]])
            if decoder.condition_channels:
                y = y + decoder._condition_term(index, condition, height, width)
            return y

        macs = 0
        if decoder.condition_channels:
            channels = decoder.condition_channels
            macs = frames * (condition.shape[-1] * channels + 9 * channels * conv.filters)
        y = profiler.step(group, f"{label} + identity/condition terms", add_terms, y, macs=macs)
        x = profiler.layers(group, label, fuse[1:], y)
    out = profiler.layers("decoder 128x96", "to_rgb", [decoder.to_rgb], x)
    if not decoder.mask_output:
        frames_out = profiler.step("decoder 128x96", "tanh", tf.tanh, out)
        profiler.step("uint8 conversion", "frames_to_uint8", frames_to_uint8, frames_out)
        return
    still = identity[2][:, None]  # [1, 1, 128, 96, 3]: every frame blends with the still
    if decoder.flow_output:

        def displacement(out, condition=condition):
            flow = out[None, ..., 4:6] + generator._speech_flow(condition, 1, frames)
            return MAX_FLOW * tf.tanh(flow / MAX_FLOW) * generator.flow_prior

        flow = profiler.step("warp", "flow: speech path", displacement, out)
        still = profiler.step("warp", "warp the still", lambda f: warp_images(identity[2], f), flow)

    def blend(out, still):
        drawn, logit = tf.tanh(out[..., :3]), out[..., 3:4]
        mask = tf.sigmoid(logit) * generator.mask_prior
        return mask[None] * drawn[None] + (1.0 - mask[None]) * still

    frames_out = profiler.step("decoder 128x96", "tanh + blend", blend, out, still)
    profiler.step("uint8 conversion", "frames_to_uint8", frames_to_uint8, frames_out)


def _gru_macs(units, features) -> float:
    macs = 0.0
    for width in units:
        macs += 3 * width * (features + width)
        features = width
    return macs


def _mfcc_macs(mfcc, audio) -> float:
    """Mel filterbank and DCT products (the FFT is left out)."""
    c = mfcc.config
    stft_frames = 1 + (audio.shape[0] - c.frame_length) // c.frame_step
    return float(stft_frames * ((c.fft_length // 2 + 1) * c.n_mels + c.n_mels * c.n_mfcc))


@contextlib.contextmanager
def keras_group_norm():
    """While tracing: GroupNormalization computes as keras.layers.GroupNormalization did."""
    fast = GroupNormalization.call
    GroupNormalization.call = keras.layers.GroupNormalization.call
    try:
        yield
    finally:
        GroupNormalization.call = fast


def unsplit_chunk(generator, signatures: GeneratorSignatures):
    """generate_chunk_with_noise as before issue 17, from the still's code and raw skips."""

    def chunk(code, skips, still, audio, state, noise):
        windows = signatures.mfcc(audio[None], context_included=True)
        time = tf.shape(windows)[1]
        initial = signatures.unpack_state(state)
        audio_code, audio_state = generator.audio_encoder(
            windows, initial_state=initial["audio"], return_state=True, training=False
        )
        noise_code, noise_state = generator.noise_generator(
            noise[None], initial_state=initial["noise"], return_state=True, training=False
        )
        condition = audio_code
        if generator.mouth_head is not None:
            condition = tf.concat([audio_code, generator.mouth_head(audio_code)], axis=-1)
        latent = tf.concat([condition, tf.repeat(code[:, None], time, axis=1), noise_code], -1)
        latent = tf.reshape(latent, [time, latent.shape[-1]])
        frame_skips = [tf.repeat(skip, time, axis=0) for skip in skips]
        decoder = generator.frame_decoder
        frame_condition = None
        if decoder.condition_channels:
            frame_condition = tf.reshape(condition, [time, condition.shape[-1]])
        decoded = decoder.decode_concatenated(latent, frame_skips, frame_condition)
        if decoder.mask_output:  # as main blends and warps: a copy of the still per frame
            mask = tf.sigmoid(decoded[..., 3:4]) * generator.mask_prior
            frame_stills = tf.repeat(still, time, axis=0)
            if decoder.flow_output:
                speech_flow = generator._speech_flow(condition, 1, time)[0]
                flow = decoded[..., 4:6] + speech_flow
                flow = MAX_FLOW * tf.tanh(flow / MAX_FLOW) * generator.flow_prior
                frame_stills = warp_images(frame_stills, flow)
            decoded = mask * decoded[..., :3] + (1.0 - mask) * frame_stills
        state = {"audio": audio_state, "noise": noise_state}
        return {"frames": frames_to_uint8(decoded), "state": signatures.pack_state(state)}

    return chunk


def step_runs(generator, signatures, face, audio, state, noise) -> dict:
    """Whole-chunk functions before issue 17 and after each of its changes, to time together."""
    still = face_to_still(face)
    code, skips = generator.identity_encoder(still, training=False)
    identity = tf.function(signatures.encode_face)(face)["identity"]
    before = tf.function(unsplit_chunk(generator, signatures))
    split = tf.function(signatures.generate_chunk_with_noise)
    now = tf.function(signatures.generate_chunk_with_noise)
    xla = tf.function(signatures.generate_chunk_with_noise, jit_compile=True)
    layers = tf.function(signatures.generate_chunk_with_noise)
    FrameDecoder.transposed_form = "layer"  # as before issue 33; tracing on the first call
    try:
        with keras_group_norm():
            reference = before(code, skips, still, audio, state, noise)["frames"].numpy()
            split(identity, audio, state, noise)
        layers(identity, audio, state, noise)
    finally:
        FrameDecoder.transposed_form = "phases"
    compared = {"before issue 33": layers, "now": now, "XLA": xla}
    if cpu.has_native_bfloat16():  # elsewhere emulated (or, oneDNN limited, refused)
        bfloat16 = tf.function(signatures.generate_chunk_with_noise)
        generator.use_conv_dtype("bfloat16")  # traced on this first call
        try:
            bfloat16(identity, audio, state, noise)
        finally:
            generator.use_conv_dtype("float32")
        compared["bfloat16 convs"] = bfloat16
    for name, function in compared.items():
        frames = function(identity, audio, state, noise)["frames"].numpy()
        levels = np.abs(frames.astype(int) - reference.astype(int))
        print(
            f"  {name} vs before issue 17: frames differ by at most {levels.max()} uint8 "
            f"level(s), {levels.mean():.2f} on average"
        )
    runs = {
        "before issue 17": lambda: before(code, skips, still, audio, state, noise),
        "+ skip share once per still": lambda: split(identity, audio, state, noise),
        "+ normalisation from channel sums": lambda: layers(identity, audio, state, noise),
        "+ transposed convs as forward convs": lambda: now(identity, audio, state, noise),
        "+ XLA (jit_compile)": lambda: xla(identity, audio, state, noise),
    }
    if "bfloat16 convs" in compared:
        bfloat16 = compared["bfloat16 convs"]
        runs["+ bfloat16 convs (export --conv_dtype)"] = lambda: bfloat16(
            identity, audio, state, noise
        )
    return runs


def parameter_table(generator) -> None:
    print("\nparameters")
    for model in (
        generator.identity_encoder,
        generator.audio_encoder,
        generator.noise_generator,
        generator.frame_decoder,
        generator,
    ):
        print(f"  {model.name:24s} {model.count_params():>12,d}")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="paper", help="paper, cpu_lipsync, tiny or a JSON")
    parser.add_argument("--model_dir", default=None, help="a trained model_dir instead")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="TF threads (default: cores)")
    parser.add_argument("--layers", action="store_true", help="also print every timed piece")
    return parser.parse_args()


def _generator(args: argparse.Namespace):
    """(generator, its ModelConfig): the trained one of --model_dir or a fresh --config."""
    if args.model_dir:
        from lipsync_tf.config import ModelConfig

        generator, values, _ = restore_generator(args.model_dir)
        return generator, ModelConfig.from_dict(values["model"])
    config = model_config(args.config)
    return build_generator(config), config


def _timed_medians(generator, config, signatures, repeats: int):
    """Median seconds of every run (matmul, the whole chunk, the identity, each step of issue
    17 and each profiled piece), interleaved; also the profiler, the steps and the matmul's
    floating-point operation count."""
    frames = CHUNK_FRAMES
    left, right = signatures.context_samples
    samples = left + frames * signatures.samples_per_frame + right
    audio = tf.constant(speech(samples / 16000)[:samples])
    rng = np.random.default_rng(0)
    face = tf.constant(rng.integers(0, 256, (128, 96, 3), dtype=np.uint8))
    noise = tf.constant(config.noise_std * rng.normal(size=(frames, config.noise_dim)), tf.float32)
    state = tf.zeros([signatures.state_size])

    encode = tf.function(signatures.encode_face)
    identity = encode(face)["identity"]
    chunk = tf.function(signatures.generate_chunk_with_noise)
    profiler = profile_chunk(generator, signatures, face, audio, noise)
    matmul, matmul_flops = matmul_run()
    steps = step_runs(generator, signatures, face, audio, state, noise)
    runs = {
        "matmul": matmul,
        "whole chunk": lambda: chunk(identity, audio, state, noise),
        "identity (per still)": lambda: encode(face),
        **steps,
    }
    runs.update({f"{i:02d} {part.label}": part.run for i, part in enumerate(profiler.parts)})
    return interleaved_medians(runs, repeats), profiler, steps, matmul_flops


def _print_profile(profiler, seconds, matmul_gflops: float, repeats: int, layers: bool) -> int:
    """The per-part table of one chunk; returns the model's multiply-adds per frame."""
    frames = CHUNK_FRAMES
    groups: dict[str, list] = {}
    for i, part in enumerate(profiler.parts):
        groups.setdefault(part.group, []).append((seconds[f"{i:02d} {part.label}"], part.macs))
    total = sum(s for values in groups.values() for s, _ in values)

    def row(name, secs, macs):
        gflops = 2 * macs * frames / secs / 1e9 if macs else 0.0
        share = f"{100 * gflops / matmul_gflops:6.0f}%" if macs else f"{'-':>7s}"
        print(
            f"  {name:34s} {1e3 * secs:9.2f} {100 * secs / total:6.1f}% {macs / 1e6:9.1f} "
            f"{gflops:8.1f} {share}"
        )

    header = f"  {'part':34s} {'ms/chunk':>9s} {'share':>7s} {'MMAC/fr':>9s} {'GFLOP/s':>8s}"
    print(f"\nprofile of one {frames}-frame chunk (parts timed alone, median of {repeats})")
    print(f"{header} {'of mm':>7s}")
    for name, values in groups.items():
        row(name, sum(s for s, _ in values), sum(m for _, m in values))
    all_macs = sum(part.macs for part in profiler.parts)
    row("sum of parts", total, all_macs)
    if layers:
        print(f"\nevery piece\n{header} {'of mm':>7s}")
        for i, part in enumerate(profiler.parts):
            row(part.label, seconds[f"{i:02d} {part.label}"], part.macs)
    return all_macs


def _print_whole(seconds, steps, config, all_macs: int, matmul_gflops: float) -> None:
    """The whole chunk's speed against the target, and what each step of issue 17 bought."""
    frames = CHUNK_FRAMES
    whole = seconds["whole chunk"]
    per_video_second = whole / (frames / config.audio.fps)
    target = target_seconds_per_video_second(matmul_gflops)
    print(f"\nwhole chunk (tf.function of generate_chunk_with_noise): {1e3 * whole:.1f} ms")
    print(f"  {2 * all_macs * frames / whole / 1e9:.1f} GFLOP/s of model work")
    print(
        f"  {per_video_second:.3f} s of compute per video second "
        f"({1 / per_video_second:.1f}x real time)"
    )
    print(f"  identity, once per still: {1e3 * seconds['identity (per still)']:.1f} ms")
    print(
        f"  target (twice SDA's speed, scaled by this run's matmul): <= {target:.3f} s/s -> "
        f"{'met' if per_video_second <= target else 'missed'}"
    )
    print(f"\nwhat each change bought (whole chunk, same rounds; target <= {target:.3f} s/s)")
    print(f"  {'':40s} {'ms/chunk':>9s} {'s/video s':>10s} {'x before':>9s} {'target':>7s}")
    for name in steps:
        secs = seconds[name]
        per_second = secs * config.audio.fps / frames
        verdict = "met" if per_second <= target else "missed"
        print(
            f"  {name:40s} {1e3 * secs:9.1f} {per_second:10.3f} "
            f"{seconds['before issue 17'] / secs:8.2f}x {verdict:>7s}"
        )


def main() -> None:
    args = _parse_args()
    set_threads(args.threads)
    tf.get_logger().setLevel("ERROR")  # one tf.function per piece: retracing is expected
    generator, config = _generator(args)
    signatures = GeneratorSignatures(generator, config)
    seconds, profiler, steps, matmul_flops = _timed_medians(
        generator, config, signatures, args.repeats
    )
    matmul_gflops = matmul_flops / seconds["matmul"] / 1e9
    print(where())
    print(f"config: {args.model_dir or args.config}; chunk: {CHUNK_FRAMES} frames at batch 1")
    print(
        f"threads: intra-op {tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}, "
        f"inter-op {tf.config.threading.get_inter_op_parallelism_threads() or 'auto'}; "
        f"{os.cpu_count()} cores"
    )
    print(f"matmul {2048}x{2048} float32: {matmul_gflops:.1f} GFLOP/s (median of {args.repeats})")
    parameter_table(generator)
    all_macs = _print_profile(profiler, seconds, matmul_gflops, args.repeats, args.layers)
    _print_whole(seconds, steps, config, all_macs, matmul_gflops)


if __name__ == "__main__":
    main()

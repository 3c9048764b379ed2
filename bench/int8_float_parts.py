"""Which parts of the int8 TFLite file must stay float for its mouth to follow the float model's.

For each choice of layers kept in float (`convert_to_tflite(..., float_tensors=...)`, the
converter's QuantizationDebugger deny-list), converts the trained generator's chunk path to int8
(calibrated on the shared clips, as bin/export does), runs it on the bundled face and 6 s of
real speech with the same noise as the SavedModel, and prints, from one run on one machine: the
file's size, the mean pixel error against the float model (whole frame and lower face), the
correlation of the face mesh's mouth opening on the two models' frames, and the int8 file's
time per second of video (1 LiteRT thread, median of 3) over the float TFLite file's.

    python bench/int8_float_parts.py --model_dir runs/lipsync_l --step 4000 --mouth_gain 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from generate_speed import chunked_run, mouth_openings, real_face
from speed_common import SHARED, speech

from lipsync_tf.config import ModelConfig
from lipsync_tf.export import calibration, tflite
from lipsync_tf.export.contract import TFLITE_INFO_NAME, TFLITE_INT8_NAME, TFLITE_NAME
from lipsync_tf.export.saved_model import export_info
from lipsync_tf.export.signatures import GeneratorSignatures
from lipsync_tf.inference.runners import TfliteRunner
from lipsync_tf.model_dir import restore_generator
from lipsync_tf.preprocessing.landmarks import FaceMesh

SECONDS = 6.0


def float_parts(signatures: GeneratorSignatures) -> dict[str, tuple[str, ...]]:
    """{description: layer names kept in float}."""
    generator = signatures.generator
    heads = tuple(h.name for h in (generator.mouth_head, generator.flow_head) if h is not None)
    speech_path = tflite.speech_path_layers(signatures)
    return {
        "nothing": (),
        "the mouth and flow heads": heads,
        "the MFCC": (signatures.mfcc.name,),
        "the audio encoder": (generator.audio_encoder.name,),
        "the speech path (MFCC, audio encoder, heads)": speech_path,
        "the speech path and the noise generator": (*speech_path, generator.noise_generator.name),
    }


def timed(run, repeats: int = 3) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model_dir", required=True, help="a trained model_dir")
    parser.add_argument("--step", type=int, default=None, help="checkpoint (default: latest)")
    parser.add_argument("--mouth_gain", type=float, default=None, help="as bin/export's")
    args = parser.parse_args()

    generator, values, step = restore_generator(args.model_dir, args.step)
    if args.mouth_gain is not None:
        values["model"]["mouth_gain"] = args.mouth_gain
    config = ModelConfig.from_dict(values["model"])
    generator.mouth_gain = config.mouth_gain
    signatures = GeneratorSignatures(generator, config)
    samples, _ = calibration.calibration_samples(signatures, SHARED / "clips")
    face, audio, frames = real_face(), speech(SECONDS), {}
    mesh = FaceMesh()
    with tempfile.TemporaryDirectory(prefix="int8_parts_") as root:
        export_dir = Path(root)  # the files TfliteRunner reads, as bin/export writes them
        (export_dir / "1").mkdir()
        shutil.copy(Path(args.model_dir) / "config.json", export_dir / "1" / "config.json")
        info = {**export_info(signatures, step), "version": 1}
        (export_dir / TFLITE_INFO_NAME).write_text(json.dumps(info))
        float_model = tflite.convert_to_tflite(signatures, "float")
        (export_dir / TFLITE_NAME).write_bytes(float_model)
        reference_run = chunked_run(
            TfliteRunner(export_dir, "tflite", num_threads=1), face, audio, frames, "f"
        )
        float_seconds = timed(reference_run)
        reference = frames["f"].astype(int)
        reference_opening = mouth_openings(frames["f"], mesh)
        print(f"{args.model_dir} step {step}, mouth gain {config.mouth_gain:g}, {SECONDS:g} s")
        print(f"float TFLite: {len(float_model) / 1e6:.2f} MB, {float_seconds:.2f} s, 1 thread")
        print(
            f"{'kept in float':46s} {'MB':>5s} {'error':>6s} {'lower':>6s} {'r':>6s}"
            f" {'x float':>8s}"
        )
        for name, layers in float_parts(signatures).items():
            keep = tflite.tensors_of_layers(float_model, layers) if layers else []
            model = tflite.convert_to_tflite(signatures, "int8", lambda: iter(samples), keep)
            (export_dir / TFLITE_INT8_NAME).write_bytes(model)
            run = chunked_run(
                TfliteRunner(export_dir, "tflite_int8", num_threads=1), face, audio, frames, name
            )
            seconds = timed(run)
            error = np.abs(frames[name].astype(int) - reference)
            opening = mouth_openings(frames[name], mesh)
            both = ~np.isnan(opening) & ~np.isnan(reference_opening)
            r = np.corrcoef(opening[both], reference_opening[both])[0, 1]
            print(
                f"{name:46s} {len(model) / 1e6:5.2f} {error.mean():6.2f} "
                f"{error[:, 64:].mean():6.2f} {r:6.3f} {seconds / float_seconds:8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

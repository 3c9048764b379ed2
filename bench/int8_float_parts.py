"""Which parts of the int8 TFLite file must stay float for its mouth to follow the float model's.

For each choice of layers kept in float (`convert_to_tflite(..., float_tensors=...)`, the
converter's QuantizationDebugger deny-list), converts the trained generator's chunk path to int8
(calibrated on the shared clips, as bin/export does), runs it on the bundled face and 6 s of
real speech with the same noise as the float TFLite file, and prints, from one run on one
machine: the file's size, the mean pixel error against the float file (whole frame and lower
face), the correlation of the face mesh's mouth opening on the two files' frames, and the int8
file's time per chunk over the float file's (1 LiteRT thread, every file timed round-robin in
the same rounds, median of 3).

    python bench/int8_float_parts.py --model_dir runs/lipsync_l --step 4000 --mouth_gain 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from generate_speed import chunked_run, drift_from, mouth_openings, real_face
from speed_common import SHARED, interleaved_medians, speech

from lipsync_tf.config import ModelConfig
from lipsync_tf.export import calibration, tflite
from lipsync_tf.export.contract import TFLITE_INFO_NAME, TFLITE_INT8_NAME, TFLITE_NAME
from lipsync_tf.export.saved_model import export_info
from lipsync_tf.export.signatures import GeneratorSignatures
from lipsync_tf.inference.runners import TfliteRunner
from lipsync_tf.model_dir import restore_generator
from lipsync_tf.preprocessing.landmarks import FaceMesh

SECONDS = 6.0
FLOAT = "float TFLite"


def float_parts(signatures: GeneratorSignatures) -> dict[str, tuple[str, ...]]:
    """{description: layer names kept in float}."""
    speech_path = tflite.speech_path_layers(signatures)
    return {
        "nothing": (),
        "the mouth and flow heads": speech_path[2:],  # after the MFCC and the audio encoder
        "the MFCC": (signatures.mfcc.name,),
        "the audio encoder": (signatures.generator.audio_encoder.name,),
        "the speech path (MFCC, audio encoder, heads)": speech_path,
        "the speech path and the noise generator": (
            *speech_path,
            signatures.generator.noise_generator.name,
        ),
    }


def tflite_runner(folder: Path, name: str, flatbuffer: bytes, info: dict, config: Path):
    """A 1-thread TfliteRunner on `flatbuffer`, in `folder` laid out as bin/export writes it."""
    (folder / "1").mkdir(parents=True)
    shutil.copy(config, folder / "1" / "config.json")
    (folder / TFLITE_INFO_NAME).write_text(json.dumps(info))
    (folder / name).write_bytes(flatbuffer)
    backend = "tflite" if name == TFLITE_NAME else "tflite_int8"
    return TfliteRunner(folder, backend, num_threads=1)


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
    info = {**export_info(signatures, step), "version": 1}
    config_json = Path(args.model_dir) / "config.json"
    face, audio, frames = real_face(), speech(SECONDS), {}
    float_model = tflite.convert_to_tflite(signatures, "float")
    models = {FLOAT: float_model}
    for name, layers in float_parts(signatures).items():
        keep = tflite.tensors_of_layers(float_model, layers) if layers else []
        models[name] = tflite.convert_to_tflite(signatures, "int8", lambda: iter(samples), keep)
    with tempfile.TemporaryDirectory(prefix="int8_parts_") as root:
        runs = {}
        for index, (name, model) in enumerate(models.items()):
            file_name = TFLITE_NAME if name == FLOAT else TFLITE_INT8_NAME
            runner = tflite_runner(Path(root) / str(index), file_name, model, info, config_json)
            runs[name] = chunked_run(runner, face, audio, frames, name)
        seconds = interleaved_medians(runs, repeats=3, minimum_seconds=0.0)
    mesh = FaceMesh()
    reference_opening = mouth_openings(frames[FLOAT], mesh)
    print(f"{args.model_dir} step {step}, mouth gain {config.mouth_gain:g}, {SECONDS:g} s")
    print(f"{FLOAT}: {len(float_model) / 1e6:.2f} MB, {seconds[FLOAT]:.2f} s, 1 thread")
    print(f"{'kept in float':46s} {'MB':>5s} {'error':>6s} {'lower':>6s} {'r':>6s} {'x float':>8s}")
    for name, model in models.items():
        if name == FLOAT:
            continue
        error, lower, r, _ = drift_from(frames[name], frames[FLOAT], reference_opening, mesh)
        r_text = "n/a" if r is None else f"{r:.3f}"
        print(
            f"{name:46s} {len(model) / 1e6:5.2f} {error:6.2f} {lower:6.2f} {r_text:>6s} "
            f"{seconds[name] / seconds[FLOAT]:8.2f}"
        )


if __name__ == "__main__":
    main()

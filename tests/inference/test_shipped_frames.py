"""The shipped model makes the same frames as when its reference was recorded: refactors of the
inference path (cropping, audio levelling, chunking) must not change what users get.

The reference (`data/shipped_frames.npz`) holds every 5th frame of the bundled example's first
second, made by `bin/generate`'s path (`crop_photo`, `load_speech`, the SavedModel runner), and
the sha256 of the SavedModel's variables it was made with. A new shipped model needs a new
reference: `python -m tests.inference.test_shipped_frames` writes it.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "exported_models" / "lipsync" / "1"
REFERENCE = Path(__file__).parent / "data" / "shipped_frames.npz"
FRAMES = slice(0, 25, 5)


def _variables_sha256() -> str:
    return hashlib.sha256(
        (MODEL / "variables" / "variables.data-00000-of-00001").read_bytes()
    ).hexdigest()


def shipped_example_frames() -> np.ndarray:
    """uint8 [5, 128, 96, 3]: frames 0, 5, ..., 20 of the bundled example, as bin/generate
    makes them (before pasting)."""
    from lipsync_tf.inference.generate import crop_photo, load_speech
    from lipsync_tf.inference.media import load_image
    from lipsync_tf.inference.runners import SavedModelRunner

    runner = SavedModelRunner(MODEL)
    _, face = crop_photo(load_image(REPO / "examples" / "still.jpg"), "still.jpg")
    waveform = load_speech(REPO / "examples" / "speech.wav", runner.samples_per_frame)
    _, frames = next(runner.iter_chunks(runner.encode_face(face), waveform, seed=0))
    return frames[FRAMES]


def test_the_shipped_model_makes_the_reference_frames():
    reference = np.load(REFERENCE)
    if str(reference["variables_sha256"]) != _variables_sha256():
        pytest.fail(
            "the shipped model changed since the reference frames were recorded; record them "
            "again with: python -m tests.inference.test_shipped_frames"
        )
    frames = shipped_example_frames()
    difference = np.abs(frames.astype(int) - reference["frames"].astype(int))
    # Within one level: oneDNN's AVX2 and AVX-512 kernels sum in different orders.
    assert difference.max() <= 1, difference.max()
    assert difference.mean() < 0.01


if __name__ == "__main__":
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(
        REFERENCE, frames=shipped_example_frames(), variables_sha256=_variables_sha256()
    )
    print(f"wrote {REFERENCE}")

"""The shipped model makes the same frames as when its reference was recorded: refactors of the
inference path (cropping, audio levelling, chunking) must not change what users get.

Each shipped version's reference (`data/shipped_frames.npz` for version 1,
`data/shipped_frames_N.npz` for later ones) holds every 5th frame of the bundled example's first
second, made by `bin/generate`'s path (`crop_photo`, `load_speech`, the SavedModel runner), and
the sha256 of the SavedModel's variables it was made with. A new shipped version needs its own
reference: `python -m tests.inference.test_shipped_frames N` writes it.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "exported_models" / "lipsync"
VERSIONS = ("1", "2", "3")
FRAMES = slice(0, 25, 5)


def _reference(version: str) -> Path:
    name = "shipped_frames.npz" if version == "1" else f"shipped_frames_{version}.npz"
    return Path(__file__).parent / "data" / name


def _variables_sha256(model: Path) -> str:
    return hashlib.sha256(
        (model / "variables" / "variables.data-00000-of-00001").read_bytes()
    ).hexdigest()


def shipped_example_frames(model: Path) -> np.ndarray:
    """uint8 [5, 128, 96, 3]: frames 0, 5, ..., 20 of the bundled example, as bin/generate
    makes them (before pasting)."""
    from lipsync_tf.inference.generate import crop_photo, load_speech
    from lipsync_tf.inference.media import load_image
    from lipsync_tf.inference.runners import SavedModelRunner

    runner = SavedModelRunner(model)
    _, face = crop_photo(load_image(REPO / "examples" / "still.jpg"), "still.jpg")
    waveform = load_speech(REPO / "examples" / "speech.wav", runner.samples_per_frame)
    _, frames = next(runner.iter_chunks(runner.encode_face(face), waveform, seed=0))
    return frames[FRAMES]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_shipped_model_makes_the_reference_frames(version):
    model = SHIPPED / version
    reference = np.load(_reference(version))
    if str(reference["variables_sha256"]) != _variables_sha256(model):
        pytest.fail(
            f"shipped model {version} changed since its reference frames were recorded; record "
            f"them again with: python -m tests.inference.test_shipped_frames {version}"
        )
    frames = shipped_example_frames(model)
    difference = np.abs(frames.astype(int) - reference["frames"].astype(int))
    # Within one level: oneDNN's AVX2 and AVX-512 kernels sum in different orders.
    assert difference.max() <= 1, difference.max()
    assert difference.mean() < 0.01


if __name__ == "__main__":
    import sys

    version = sys.argv[1]
    model = SHIPPED / version
    _reference(version).parent.mkdir(exist_ok=True)
    np.savez_compressed(
        _reference(version),
        frames=shipped_example_frames(model),
        variables_sha256=_variables_sha256(model),
    )
    print(f"wrote {_reference(version)}")

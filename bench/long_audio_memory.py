"""Peak memory of `bin/generate` for 10 s and for 10 minutes of speech, in one run.

Each is a fresh `bin/generate` process (the user's command: imports, model load, generation,
encoding) on the bundled photo with the shipped model; its peak resident memory is the kernel's
count for that process (`os.wait4`). The speech is real: the bundled example (16 kHz mono)
and a 44.1 kHz stereo recording from the shared data, each repeated to length, so both of the
loader's paths are measured. Prints both peaks and their ratio per format.

    python bench/long_audio_memory.py [--long_minutes 10] [--model exported_models/lipsync]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIPSYNC_SHARED_DATA", REPO.parent / "shared" / "data"))
PHOTO = REPO / "examples" / "still.jpg"
RECORDINGS = {
    "16 kHz mono wav": REPO / "examples" / "speech.wav",
    "44.1 kHz stereo wav": SHARED / "audio" / "videoretalking_audio1.wav",
}


def repeated(source: Path, seconds: float, path: Path) -> Path:
    """`source` repeated (or cut) to `seconds`, written at its own rate and channels."""
    samples, rate = soundfile.read(source, dtype="int16", always_2d=True)
    length = int(seconds * rate)
    reps = -(-length // len(samples))
    soundfile.write(path, np.tile(samples, (reps, 1))[:length], rate, subtype="PCM_16")
    return path


def peak_mb(audio: Path, output: Path, model: str) -> tuple[float, float]:
    """(peak resident MB, wall seconds) of one `bin/generate` process."""
    begin = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "bin" / "generate"), f"--image={PHOTO}", f"--audio={audio}",
         f"--output={output}", f"--model={model}", "--noprogress", "--overwrite"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    stderr = process.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bin/generate failed:\n{stderr[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - begin  # ru_maxrss is in KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long_minutes", type=float, default=10.0)
    parser.add_argument("--model", default="exported_models/lipsync")
    args = parser.parse_args()
    print(f"# bin/generate peak RSS, {PHOTO.name}, model {args.model}, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="lipsync_memory_") as temp:
        root = Path(temp)
        for name, source in RECORDINGS.items():
            if not source.is_file():
                print(f"{name}: {source} missing, skipped")
                continue
            peaks = []
            for label, seconds in (("10 s", 10.0), (f"{args.long_minutes:g} min",
                                                   60 * args.long_minutes)):  # fmt: skip
                audio = repeated(source, seconds, root / "speech.wav")
                peak, wall = peak_mb(audio, root / "out.mp4", args.model)
                peaks.append(peak)
                print(f"{name}, {label:>6s}: peak {peak:6.0f} MB ({wall:.0f} s wall)")
            print(f"{name}: ratio {peaks[1] / peaks[0]:.3f} (target <= 1.1)")


if __name__ == "__main__":
    main()

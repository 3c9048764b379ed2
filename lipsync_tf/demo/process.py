"""`bin/demo` as a child process on a free localhost port, for the tests and the benchmark.

They meet the page as a visitor does, through HTTP, and read what only the server knows from
outside: its log (one line per request started and finished) and its peak memory.
"""

from __future__ import annotations

import datetime
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clock_seconds() -> float:
    """Seconds since local midnight: the clock of the absl log lines."""
    now = datetime.datetime.now()
    return now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6


class DemoProcess:
    """Starts `bin/demo` with TMPDIR=`tmp_root` (its private folder appears there)."""

    def __init__(
        self,
        tmp_root: Path,
        log_path: Path,
        model: Path = REPO / "exported_models" / "lipsync",
        args: tuple[str, ...] = (),
        start_timeout: float = 300,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.tmp_root = Path(tmp_root)
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "bin" / "demo"), f"--model={model}",
             f"--port={self.port}", *args],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "TMPDIR": str(self.tmp_root)},
        )  # fmt: skip
        self.started = time.perf_counter()
        self._wait_ready(start_timeout)
        self.start_seconds = time.perf_counter() - self.started

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"bin/demo exited at start-up:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"bin/demo did not answer in {timeout:.0f} s")
            time.sleep(0.5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def work_dir(self) -> Path:
        (work_dir,) = self.tmp_root.glob("lipsync_demo-*")
        return work_dir

    def peak_rss_mb(self) -> float:
        """High-water mark of the server's resident memory (VmHWM), MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def request_times(self) -> dict[int, dict[str, float]]:
        """Request number -> {"started"/"finished": `clock_seconds`} from the server's log."""
        times: dict[int, dict[str, float]] = {}
        for hours, minutes, seconds, number, event in re.findall(
            r"^I\d{4} (\d\d):(\d\d):(\d\d\.\d+) .*request (\d+) (started|finished)",
            self.log_text(),
            re.M,
        ):
            clock = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
            times.setdefault(int(number), {})[event] = clock
        return times

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

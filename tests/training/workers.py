"""Starting the workers of a multi-worker run on 127.0.0.1, always bounded and always cleaned up.

Each worker is a real process with its own TF_CONFIG, its own TMPDIR (to see what it leaves
there) and its output in files (pipes could fill up and block it). `started` SIGKILLs whatever
is still running when its block ends, whatever happened inside it: TensorFlow catches SIGTERM.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    """Ports on 127.0.0.1 that were free a moment ago (held together so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


@dataclasses.dataclass
class Worker:
    process: subprocess.Popen
    output: Path  # stdout and stderr, interleaved
    tmpdir: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def last_line(self) -> str:
        """The last line a person would read: TensorFlow's own log lines left out."""
        lines = [line for line in self.text().splitlines() if not _tensorflow_log(line)]
        return lines[-1] if lines else ""


def _tensorflow_log(line: str) -> bool:
    return line.startswith(("I0000", "W0000", "E0000", "F0000", "WARNING: All log messages"))


def start(argv: list[str], index: int, ports: list[int], directory: Path, **env) -> Worker:
    """Starts `python argv...` as worker `index` of a cluster on `ports`."""
    tmpdir = directory / f"tmp{index}"
    tmpdir.mkdir(parents=True, exist_ok=True)
    output = directory / f"worker{index}.log"
    environment = dict(
        os.environ,
        TF_CONFIG=tf_config(ports, index),
        TMPDIR=str(tmpdir),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(REPO),
        **env,
    )
    with open(output, "w") as stream:
        process = subprocess.Popen(
            [sys.executable, *argv], cwd=REPO, env=environment, stdout=stream,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Worker(process, output, tmpdir)


@contextmanager
def started(workers: list[Worker]):
    """Yields the workers; on the way out kills (SIGKILL) and reaps any still running."""
    with ExitStack() as stack:
        for worker in workers:
            stack.callback(_kill, worker.process)
        yield workers


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def wait_all(workers: list[Worker], timeout: float) -> list[int]:
    """Exit codes of all workers, waiting at most `timeout` seconds in total (then raises)."""
    deadline = time.monotonic() + timeout
    for worker in workers:
        try:
            worker.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            outputs = "\n".join(f"--- {w.output.name}\n{w.text()[-3000:]}" for w in workers)
            raise AssertionError(f"workers still running after {timeout} s\n{outputs}") from None
    return [worker.process.returncode for worker in workers]


def wait_for(predicate, timeout: float, what: str, workers: list[Worker]) -> None:
    """Polls `predicate` until it holds; fails after `timeout` s or if a worker stops first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        stopped = [w for w in workers if w.process.poll() is not None]
        if stopped or time.monotonic() > deadline:
            outputs = "\n".join(f"--- {w.output.name}\n{w.text()[-3000:]}" for w in workers)
            raise AssertionError(f"never saw {what}\n{outputs}")
        time.sleep(0.2)

"""How a `bin/` command meets the terminal: its own lines only, and one line for any failure.

- **Library logs hidden.** TensorFlow, MediaPipe and LiteRT log from C++ straight to file
  descriptor 2 ("All log messages before absl::InitializeLog() is called are written to
  STDERR", "oneDNN custom operations are on", "INFO: Created TensorFlow Lite XNNPACK delegate",
  ...). No environment variable silences all of it (TF_CPP_MIN_LOG_LEVEL=3, GLOG_minloglevel=3
  and TF 2.21's absl logging still print the first two), so in a quiet run descriptor 2 is
  pointed at an unnamed temporary file while Python's `sys.stderr` (progress bar, warnings,
  our messages, tracebacks) keeps writing to the terminal. A run that fails with a bug prints
  the hidden lines after all. `--verbosity 1` (`-v 1`) or LIPSYNC_VERBOSE=1 shows everything.
- **Interruptions.** SIGINT and SIGTERM raise `Interrupted` in the main thread, so every `with`
  block on the way out removes its temporary files; the command says "interrupted; nothing
  written" and exits 128 + the signal's number (130, 143).
- **User errors** (`LipsyncError`) are printed as one line, `prog: message`, exit status 1.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator

from tqdm import tqdm

from lipsync_tf.errors import LipsyncError

VERBOSE_ENV = "LIPSYNC_VERBOSE"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; `signum` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Signals:
    """State of the handler `run_command` installs (nothing else reads it)."""

    installed = False
    holding = False  # inside `final_step`: a signal waits until the step is over
    held: int | None = None


def _on_signal(signum: int, frame) -> None:
    if _Signals.holding:
        _Signals.held = _Signals.held or signum
        return
    for other in SIGNALS:  # the clean-up that follows runs undisturbed by a second Ctrl-C
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def final_step() -> Iterator[None]:
    """Runs the block that puts a finished output in place without interruption.

    A signal that arrives meanwhile is held: if the block fails it is raised at its end; if
    the block succeeds the output is complete, the command has done its work, and signals are
    ignored until it exits (so "interrupted; nothing written" is never said of a written file).
    Outside `run_command` (tests, the web demo) it changes nothing.
    """
    if not _Signals.installed:
        yield
        return
    _Signals.holding = True
    try:
        yield
    except BaseException:
        _Signals.holding = False
        if _Signals.held is not None:
            raise Interrupted(_Signals.held) from None
        raise
    for other in SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    _Signals.holding = False


def verbose_requested(verbosity: int) -> bool:
    """True for `--verbosity 1` or more, or a non-empty LIPSYNC_VERBOSE other than 0."""
    return verbosity >= 1 or os.environ.get(VERBOSE_ENV, "") not in ("", "0")


class NativeLog:
    """Descriptor 2 (what C/C++ libraries write to) captured in an unnamed temporary file,
    or discarded (`keep=False`, for a long-running server); Python's `sys.stderr` is a new
    stream on the terminal's descriptor."""

    def __init__(self, keep: bool = True):
        sys.stderr.flush()
        self.file = tempfile.TemporaryFile() if keep else open(os.devnull, "wb")
        terminal = os.dup(2)
        os.dup2(self.file.fileno(), 2)
        sys.stderr = open(  # lives as long as the process
            terminal, "w", buffering=1, encoding="utf-8", errors="backslashreplace"
        )
        from absl import logging as absl_logging

        absl_logging.get_absl_handler().python_handler.stream = sys.stderr
        if faulthandler.is_enabled():  # a crash's stack still reaches the terminal
            faulthandler.enable(sys.stderr)
        # TensorFlow's Python side logs through its own logger (retracing notices, ...).
        logging.getLogger("tensorflow").setLevel(logging.ERROR)

    def text(self) -> str:
        """What the libraries wrote so far ("" when discarded)."""
        if self.file.name == os.devnull:
            return ""
        self.file.seek(0)
        return self.file.read().decode("utf-8", errors="replace")


def hide_library_logs(verbosity: int, keep: bool = True) -> NativeLog | None:
    """Quiets TensorFlow, MediaPipe and LiteRT unless asked not to (`verbose_requested`).
    Call before they are imported. Returns the capture, or None when nothing is hidden."""
    if verbose_requested(verbosity):
        return None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return NativeLog(keep)


def notice(prog: str) -> Callable[[str], None]:
    """Prints a notice for the user ("photo.png has 2 faces; using the largest ...") as a line
    of its own, `prog: notice`, above the progress bar if one is showing."""

    def say(message: str) -> None:
        tqdm.write(f"{prog}: {message}", file=sys.stderr)

    return say


def run_command(prog: str, work: Callable[[], str], verbosity: int) -> None:
    """Runs one command's `work` (which returns its summary line) as described at the top."""
    native = hide_library_logs(verbosity)
    previous = {signum: signal.signal(signum, _on_signal) for signum in SIGNALS}
    _Signals.installed, _Signals.holding, _Signals.held = True, False, None
    try:
        summary = work()
    except LipsyncError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        sys.exit(1)
    except Interrupted as interrupted:
        print(f"{prog}: interrupted; nothing written.", file=sys.stderr)
        sys.exit(128 + interrupted.signum)
    except Exception:
        if native is not None and native.text():
            print(f"{prog}: library log of the failed run:\n{native.text()}", file=sys.stderr)
        raise
    finally:
        _Signals.installed = False
    print(summary)
    for signum, handler in previous.items():
        signal.signal(signum, handler)

"""The user's files: inputs checked before any heavy work, outputs never overwritten by surprise.

Every command reads its inputs and writes its output through these checks, so a missing,
unreadable or empty input, or an output that would replace an input or an existing file, is
one line naming the file and the fix (`LipsyncError`), before a model is loaded.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from lipsync_tf.errors import InputError


def check_input_file(path: str | Path, kind: str) -> Path:
    """`path` as a readable, non-empty file; else an `InputError` naming the `kind` of input
    ("image", "audio file", "video file") and the fix."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{kind} {path} does not exist; check the path.") from None
    except OSError as error:  # e.g. a name longer than the file system allows
        raise InputError(f"cannot read {kind} {path}: {error.strerror}; check it.") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{kind} {path} is a folder; give a file.")
    if not stat.S_ISREG(mode):
        raise InputError(f"{kind} {path} is not a regular file; give a file.")
    try:
        with open(path, "rb") as file:
            empty = not file.read(1)
    except OSError as error:
        raise InputError(f"cannot read {kind} {path}: {error.strerror}; check it.") from error
    if empty:
        raise InputError(f"{kind} {path} is empty (0 bytes); give another file.")
    return path


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (also through symbolic or hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def check_output(
    path: str | Path, inputs: Iterable[str | Path] = (), overwrite: bool = False
) -> Path:
    """Fails early, before any heavy work, when `path` cannot or must not be written.

    An input is never overwritten; an existing file only with `overwrite`, and never a
    read-only one.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: folder {parent} does not exist; create it first.")
    name_max = os.pathconf(parent, "PC_NAME_MAX")
    if len(os.fsencode(path.name)) > name_max:
        raise InputError(
            f"output name {path.name[:40]}... is {len(os.fsencode(path.name))} bytes long, more "
            f"than the {name_max} the file system allows; give a shorter name."
        )
    if path.is_dir():
        raise InputError(f"output {path} is a directory; give a file name like out.mp4.")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {path}: folder {parent} is not writable.")
    for given in inputs:
        if _same_file(path, Path(given)):
            raise InputError(
                f"output {path} is the input {given}; writing it would destroy the input: give "
                "another output name."
            )
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise InputError(
                f"output {path} already exists; give another name, or --overwrite to replace it."
            )
        mode = path.lstat().st_mode
        if not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise InputError(
                f"output {path} is read-only, so it is not replaced; give another name, or "
                "make it writable first."
            )
    return path


def temporary_name(path: Path) -> Path:
    """A hidden name beside `path` for the file being written: `.NAME.tmp-PID-RANDOM.mp4`,
    with NAME cut short so the whole stays within the 255-byte limit of file names."""
    stem = os.fsencode(path.stem)[:160].decode("utf-8", errors="ignore")
    return path.with_name(f".{stem}.tmp-{os.getpid()}-{secrets.token_hex(3)}{path.suffix}")

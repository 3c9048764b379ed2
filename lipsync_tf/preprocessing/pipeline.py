"""The Apache Beam pipeline of bin/prepare_data: clips in, sharded TFRecords + manifest.json out.

    find_clips → Create → Reshuffle → ParDo(ProcessClips) ─┬→ WriteToTFRecord (num_shards)
                                                           └→ one JSON line per clip (kept/skipped)

Each worker builds its own MediaPipe detector in `DoFn.setup` and closes it in `teardown`. One bad
clip never stops the run: `ClipSkipped` records its reason, and any other exception is recorded as
reason "error" (a bug: the detail keeps the message).

Output is committed atomically: Beam writes into `<output_dir>/.staging-<pid>-<id>/`; only after the
pipeline succeeds are the shards moved into place with `os.replace`, stale shards of an earlier run
(e.g. another --num_shards) removed, and `manifest.json` written last (temp file + replace). A
re-run whose inputs (paths, sizes, mtimes) and settings match the manifest's fingerprint is skipped;
`overwrite=True` redoes it. Staging folders of killed runs (their process is gone) are deleted at
the start of the next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from lipsync_tf.data import schema
from lipsync_tf.errors import InputError
from lipsync_tf.preprocessing.clips import ClipOptions, ClipSkipped
from lipsync_tf.preprocessing.layouts import ClipSource, find_clips
from lipsync_tf.timing import StageTimer

# Bump when the record content changes so old outputs are not taken as up to date.
FORMAT_VERSION = 3  # 2: area-filtered crops (faces.crop_face); 3: lip landmarks per frame
_STAGING_PREFIX = ".staging-"


class ProcessClips:
    """Factory of the Beam DoFn (built lazily so importing this module does not import Beam)."""

    @staticmethod
    def make(options: ClipOptions, progress_dir: str):
        import apache_beam as beam

        class _ProcessClipsFn(beam.DoFn):
            def __init__(self, options: ClipOptions, progress_dir: str):
                self._options = options
                self._progress_dir = progress_dir
                self._detector = None
                self._mesh = None

            def setup(self):
                from lipsync_tf.preprocessing.faces import FaceDetector
                from lipsync_tf.preprocessing.landmarks import FaceMesh

                self._detector = FaceDetector()
                self._mesh = FaceMesh()

            def teardown(self):
                if self._detector is not None:
                    self._detector.close()
                    self._detector = None

            def process(self, source: ClipSource):
                summary, serialized = process_to_summary(
                    source, self._detector, self._options, self._mesh
                )
                _mark_done(self._progress_dir, source.clip_id, summary.get("seconds", 0.0))
                if serialized is not None:
                    yield serialized
                yield beam.pvalue.TaggedOutput("summary", json.dumps(summary))

        return _ProcessClipsFn(options, progress_dir)


def process_to_summary(source: ClipSource, detector, options: ClipOptions, mesh=None):
    """Runs `process_clip` and returns (manifest entry, serialized record or None)."""
    from lipsync_tf.preprocessing.clips import process_clip

    timer = StageTimer()
    entry = {"clip_id": source.clip_id, "speaker_id": source.speaker_id, "source_path": source.path}
    start = time.perf_counter()
    try:
        record = process_clip(source, detector, options, timer, mesh)
        with timer.stage("serialize"):
            serialized = schema.serialize(record)
        entry.update(
            kept=True,
            num_frames=record.num_frames,
            seconds=record.num_frames / record.fps,
            num_samples=int(record.audio.shape[0]),
            bytes=len(serialized),
        )
    except ClipSkipped as skipped:
        serialized = None
        entry.update(kept=False, reason=skipped.reason, detail=skipped.detail, seconds=0.0)
    except Exception as error:  # one bad clip must not stop the run
        serialized = None
        entry.update(
            kept=False, reason="error", detail=f"{type(error).__name__}: {error}", seconds=0.0
        )
    entry["wall_seconds"] = time.perf_counter() - start
    entry["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    entry["finished_at"] = time.time()
    entry["stage_seconds"] = {k: round(v, 4) for k, v in timer.seconds.items()}
    return entry, serialized


def _mark_done(progress_dir: str, clip_id: str, seconds: float) -> None:
    """One empty file per finished clip; its name carries the seconds of video it held."""
    digest = hashlib.sha1(clip_id.encode()).hexdigest()[:16]
    Path(progress_dir, f"{digest}_{seconds:.3f}").touch()


class _ProgressMonitor(threading.Thread):
    """Shows clips done / total and seconds of video per second, from the workers' marker files."""

    def __init__(self, progress_dir: str, total: int, enabled: bool = True):
        super().__init__(daemon=True)
        self._dir = progress_dir
        self._total = total
        self._stopping = threading.Event()
        self._enabled = enabled

    def _poll(self) -> tuple[int, float]:
        names = os.listdir(self._dir) if os.path.isdir(self._dir) else []
        return len(names), sum(float(name.split("_")[1]) for name in names)

    def run(self) -> None:
        if not self._enabled:
            return
        from tqdm import tqdm

        start = time.monotonic()
        with tqdm(total=self._total, unit="clip", desc="prepare_data", file=sys.stderr) as bar:
            while True:
                stopping = self._stopping.wait(0.5)
                done, seconds = self._poll()
                bar.n = done
                elapsed = max(time.monotonic() - start, 1e-6)
                bar.set_postfix_str(f"{seconds:.0f} s video, {seconds / elapsed:.1f} s video/s")
                if stopping:
                    break

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def fingerprint(sources: list[ClipSource], options: ClipOptions, num_shards: int) -> str:
    """Hash of everything the output depends on: input files (size, mtime) and settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps([FORMAT_VERSION, dataclasses.asdict(options), num_shards]).encode())
    for source in sources:
        for path in (source.path, source.audio_path):
            stat = os.stat(path) if path else None
            digest.update(
                json.dumps(
                    [path, stat.st_size if stat else None, stat.st_mtime_ns if stat else None]
                ).encode()
            )
        digest.update(json.dumps([source.speaker_id, source.clip_id]).encode())
    return digest.hexdigest()


def _up_to_date(output_dir: Path, print_fn, key: str) -> dict | None:
    manifest_path = output_dir / schema.MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if manifest.get("fingerprint") != key:
        return None
    if not all((output_dir / shard).is_file() for shard in manifest.get("shards", [])):
        return None
    print_fn(f"{output_dir} is up to date with these inputs and settings; nothing to do.")
    return manifest


def _write_json_atomically(path: Path, value) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(temp, path)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_staging(output: Path) -> list[Path]:
    """Deletes `.staging-<pid>-*` folders whose process is gone (a run killed before it could
    clean up) and returns them. Folders of runs still going are left alone."""
    removed = []
    for folder in sorted(output.glob(f"{_STAGING_PREFIX}*")):
        pid = folder.name[len(_STAGING_PREFIX) :].split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _commit(staging: Path, output_dir: Path, num_shards: int) -> list[str]:
    names = [schema.shard_name(index, num_shards) for index in range(num_shards)]
    for name in names:
        if not (staging / name).is_file():  # Beam wrote no file for an empty shard
            (staging / name).write_bytes(b"")
    for name in names:
        os.replace(staging / name, output_dir / name)
    for stale in output_dir.glob(f"{schema.SHARD_PREFIX}-*-of-*"):
        if stale.name not in names:
            stale.unlink()
    return names


def prepare_data(
    input_dir: str,
    output_dir: str,
    layout: str = "auto",
    speaker_map: str | dict | None = None,
    num_shards: int = 4,
    options: ClipOptions | None = None,
    runner: str = "DirectRunner",
    direct_num_workers: int = 2,
    direct_running_mode: str = "multi_processing",
    beam_args: list[str] | None = None,
    max_clips: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    print_fn=print,
) -> dict:
    """Runs the pipeline and returns the manifest (also written to `output_dir/manifest.json`)."""
    options = options or ClipOptions()
    if num_shards < 1:
        raise InputError(f"--num_shards must be at least 1, not {num_shards}.")
    input_dir = str(Path(input_dir).resolve())  # records name their source by absolute path
    sources = find_clips(input_dir, layout, speaker_map)
    if max_clips:
        sources = sources[:max_clips]
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(output)
    key = fingerprint(sources, options, num_shards)
    if not overwrite:
        manifest = _up_to_date(output, print_fn, key)
        if manifest is not None:
            return manifest

    staging = output / f"{_STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    progress_dir = staging / "progress"
    progress_dir.mkdir(parents=True)
    pipeline_args = _pipeline_args(runner, direct_num_workers, direct_running_mode, beam_args)
    monitor = _ProgressMonitor(str(progress_dir), len(sources), progress)
    started = time.perf_counter()
    try:
        monitor.start()
        try:
            _run_pipeline(pipeline_args, sources, options, staging, progress_dir, num_shards)
        finally:
            monitor.stop()
        wall = time.perf_counter() - started
        entries = [
            json.loads(line)
            for line in (staging / "summaries").read_text().splitlines()
            if line.strip()
        ]
        shards = _commit(staging, output, num_shards)
        manifest = _manifest(entries, shards, key, options, input_dir, layout, wall)
        _write_json_atomically(output / schema.MANIFEST_NAME, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    totals = manifest["totals"]
    print_fn(
        f"kept {totals['kept']} of {totals['clips']} clips ({totals['seconds_kept']:.1f} s of "
        f"video) in {num_shards} shards in {output}; skipped {totals['skipped']}"
        + (f" {dict(totals['skipped_by_reason'])}" if totals["skipped"] else "")
        + f"; {totals['video_seconds_per_second']:.1f} s of video per second."
    )
    return manifest


def _pipeline_args(
    runner: str, direct_num_workers: int, direct_running_mode: str, beam_args: list[str] | None
) -> list[str]:
    """Beam's command line: the runner, its extra arguments, and for the DirectRunner its
    workers (quiet unless something goes wrong)."""
    pipeline_args = [f"--runner={runner}", *(beam_args or [])]
    if runner == "DirectRunner":
        pipeline_args += [
            f"--direct_num_workers={direct_num_workers}",
            f"--direct_running_mode={direct_running_mode}",
            "--default_sdk_harness_log_level=WARNING",  # workers log every bundle at INFO
        ]
    return pipeline_args


def _run_pipeline(
    pipeline_args: list[str],
    sources: list[ClipSource],
    options: ClipOptions,
    staging: Path,
    progress_dir: Path,
    num_shards: int,
) -> None:
    """Processes every clip in Beam: shards of records and one file of summaries in `staging`."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    with beam.Pipeline(options=PipelineOptions(pipeline_args)) as pipeline:
        results = (
            pipeline
            | "Clips" >> beam.Create(sources)
            | "Spread" >> beam.Reshuffle()
            | "Process"
            >> beam.ParDo(ProcessClips.make(options, str(progress_dir))).with_outputs(
                "summary", main="records"
            )
        )
        _ = results.records | "WriteShards" >> beam.io.WriteToTFRecord(
            str(staging / schema.SHARD_PREFIX),
            num_shards=num_shards,
            shard_name_template="-SSSSS-of-NNNNN",
        )
        _ = results.summary | "WriteSummaries" >> beam.io.WriteToText(
            str(staging / "summaries"), num_shards=1, shard_name_template=""
        )


def _manifest(entries, shards, key, options, input_dir, layout, wall) -> dict:
    entries = sorted(entries, key=lambda entry: entry["clip_id"])
    kept = [entry for entry in entries if entry["kept"]]
    skipped = [entry for entry in entries if not entry["kept"]]
    seconds_kept = sum(entry["seconds"] for entry in kept)
    # From the first clip started to the last finished: the run without Beam start-up/shutdown.
    span = max(e["finished_at"] for e in entries) - min(
        e["finished_at"] - e["wall_seconds"] for e in entries
    )
    return {
        "format_version": FORMAT_VERSION,
        "fingerprint": key,
        "input_dir": str(input_dir),
        "layout": layout,
        "settings": dataclasses.asdict(options),
        "shards": shards,
        "kept": kept,
        "skipped": skipped,
        "totals": {
            "clips": len(entries),
            "kept": len(kept),
            "skipped": len(skipped),
            "skipped_by_reason": dict(Counter(entry["reason"] for entry in skipped)),
            "speakers_kept": len({entry["speaker_id"] for entry in kept}),
            "frames_kept": sum(entry["num_frames"] for entry in kept),
            "seconds_kept": round(seconds_kept, 3),
            "wall_seconds": round(wall, 3),
            "video_seconds_per_second": round(seconds_kept / max(wall, 1e-6), 3),
            "processing_span_seconds": round(span, 3),
            "video_seconds_per_processing_second": round(seconds_kept / max(span, 1e-6), 3),
            "workers": len({entry["worker"] for entry in entries}),
        },
    }

"""Training on several machines: the cluster in TF_CONFIG and what each worker does in it.

`MultiWorkerMirroredStrategy` runs one process per machine (a "worker"); every step all-reduces
the gradients over the replicas of all workers, so all workers hold the same weights. This module
adds what TensorFlow leaves to its user:

- `cluster_from_environment`: TF_CONFIG is checked before TensorFlow reads it (valid JSON, only
  chief/worker jobs, this process's task in the cluster, host:port addresses), one-line errors;
- `joining`: forming the cluster is bounded in time. TensorFlow's coordination leader waits
  forever for a worker that never starts, holding the GIL, so a small watchdog process stops it
  after `timeout` seconds and names the peers that do not answer;
- `handshake`: before any variable exists, every worker checks through the coordination
  service's key-value store that it was started with the chief's flags, that it sees the chief's
  files in --model_dir (the directory must be shared) and which checkpoint the chief resumes from.
  Every worker learns every other's verdict, so all stop together with the same line instead of
  one leaving the others waiting at a collective;
- only the chief writes --model_dir (see `trainer.train`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lipsync_tf import model_dir as model_dir_lib
from lipsync_tf.errors import LipsyncError

JOBS = ("chief", "worker")  # in id order: the chief (if any) is id 0
# A dead peer is noticed by missed heartbeats within this many seconds (or --peer_timeout if
# shorter); the survivors' collectives then fail instead of waiting forever.
HEARTBEAT_SECONDS = 30.0
_KEY = "lipsync_tf/handshake"


class ClusterError(LipsyncError):
    """The workers of a multi-worker run cannot train together as configured."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The workers of a run, from TF_CONFIG: `addresses[i]` is the task with id i."""

    task_type: str
    task_index: int
    jobs: tuple[tuple[str, tuple[str, ...]], ...]  # (job, addresses) in JOBS order

    @property
    def tasks(self) -> list[tuple[str, str]]:
        """(name, address) of every task in id order, e.g. [("chief", ...), ("worker 0", ...)]."""
        named = []
        for job, addresses in self.jobs:
            for index, address in enumerate(addresses):
                named.append((job if job == "chief" else f"worker {index}", address))
        return named

    @property
    def num_workers(self) -> int:
        return len(self.tasks)

    @property
    def task_id(self) -> int:
        """0 .. num_workers - 1; the chief (or worker 0 without a chief job) is 0."""
        chiefs = sum(len(addresses) for job, addresses in self.jobs if job == "chief")
        return self.task_index + (0 if self.task_type == "chief" else chiefs)

    @property
    def is_chief(self) -> bool:
        return self.task_id == 0

    @property
    def name(self) -> str:
        return self.tasks[self.task_id][0]

    def peers(self) -> list[tuple[str, str]]:
        return [task for index, task in enumerate(self.tasks) if index != self.task_id]


def _fail(problem: str) -> ClusterError:
    return ClusterError(f"TF_CONFIG {problem}")


def parse_tf_config(text: str) -> Cluster:
    """The cluster a TF_CONFIG string describes, or a ClusterError that says what to fix."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise _fail(f"is not valid JSON ({error}); see docs/training_on_a_cluster.md.") from None
    if not isinstance(values, dict) or not isinstance(values.get("cluster"), dict):
        raise _fail('needs a "cluster" object, e.g. {"worker": ["host0:2222", "host1:2222"]}.')
    cluster, task = values["cluster"], values.get("task")
    other = sorted(set(cluster) - set(JOBS))
    if other:
        raise _fail(
            f"has {other} jobs; bin/train runs MultiWorkerMirroredStrategy, whose cluster has "
            'only "worker" tasks (and optionally one "chief").'
        )
    jobs = []
    seen: set[str] = set()
    for job in JOBS:
        if job not in cluster:
            continue
        addresses = cluster[job]
        if not isinstance(addresses, list) or not addresses:
            raise _fail(f'job "{job}" must be a non-empty list of "host:port" addresses.')
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit():
                raise _fail(f'address {address!r} of job "{job}" is not "host:port".')
            if address in seen:
                raise _fail(f"lists {address} twice; every task needs its own host:port.")
            seen.add(address)
        jobs.append((job, tuple(addresses)))
    if not jobs:
        raise _fail('lists no "worker" tasks.')
    if len(dict(jobs).get("chief", ())) > 1:
        raise _fail('lists several "chief" tasks; there can be only one.')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise _fail(
            'needs "task": {"type": "worker", "index": N} naming this process\'s place in '
            "the cluster."
        )
    task_type, index = task["type"], task["index"]
    sizes = {job: len(addresses) for job, addresses in jobs}
    if task_type not in sizes or not isinstance(index, int) or not 0 <= index < sizes[task_type]:
        listed = ", ".join(f"{job} 0..{size - 1}" for job, size in sizes.items())
        raise _fail(
            f"task {task_type!r} {index!r} is not in its cluster (which has {listed}); give "
            "each process its own task from the cluster's list."
        )
    return Cluster(task_type=task_type, task_index=index, jobs=tuple(jobs))


def cluster_from_environment() -> Cluster | None:
    """The cluster in $TF_CONFIG, or None when training on one machine."""
    text = os.environ.get("TF_CONFIG", "").strip()
    return parse_tf_config(text) if text else None


@contextmanager
def joining(cluster: Cluster, timeout: float) -> Iterator[None]:
    """Kills this process with a one-line error if the block takes longer than `timeout` s.

    Wraps creating the strategy and the handshake. A Python thread cannot do this: while
    TensorFlow's leader waits for stragglers it holds the GIL.
    """
    script = Path(__file__).with_name("watchdog.py")
    watchdog = subprocess.Popen(
        [sys.executable, str(script), str(os.getpid()), str(timeout), cluster.name,
         json.dumps(cluster.peers())],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield
    finally:
        watchdog.stdin.close()
        watchdog.wait()


def make_multi_worker_strategy(cluster: Cluster, timeout: float):
    """MultiWorkerMirroredStrategy over TF_CONFIG's cluster, with bounded waits.

    The coordination service is configured here (TensorFlow's default waits without limit):
    registration within `timeout`, heartbeats so that a dead peer fails the survivors'
    collectives, and a bounded shutdown barrier. NCCL all-reduce on GPUs, ring on CPUs.
    """
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    leader_job = cluster.jobs[0][0]
    milliseconds = int(timeout * 1000)
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=f"/job:{leader_job}/replica:0/task:0",
        cluster_register_timeout_in_ms=milliseconds,
        heartbeat_timeout_in_ms=int(min(HEARTBEAT_SECONDS, timeout) * 1000),
        shutdown_barrier_timeout_in_ms=milliseconds,
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(addresses))
            for job, addresses in cluster.jobs
        ],
    )
    gpus = tf.config.list_physical_devices("GPU")
    implementation = (
        tf.distribute.experimental.CommunicationImplementation.NCCL
        if gpus
        else tf.distribute.experimental.CommunicationImplementation.RING
    )
    tf.get_logger().setLevel("WARNING")  # one INFO line per all-reduce otherwise
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=implementation
            )
        )
    except tf.errors.OpError as error:
        raise ClusterError(
            f"{cluster.name} could not join the cluster: {first_line(error)}; start every "
            "worker of TF_CONFIG, or raise --peer_timeout."
        ) from None
    # TensorFlow's preemption notifier swallows SIGTERM; a scheduler's or user's SIGTERM should
    # stop the worker (checkpoints are atomic, a restart resumes from the last one).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return strategy


def first_line(error: Exception) -> str:
    """The first informative line of a TensorFlow error message (without the op's name)."""
    text = getattr(error, "message", None) or str(error)
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)  # {{function_node __wrapped__...}}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    # "... are unhealthy (stopped sending heartbeats):" is followed by the task's name.
    return " ".join(lines[:2]) if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def _flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(values, dict):
        flat: dict[str, Any] = {}
        for key, value in values.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: values}


def _setting(key: str) -> str:
    """The flag behind a resolved-config key: 'train.l1_weight' -> '--l1_weight'."""
    section, _, name = key.partition(".")
    return f"--model_config's {name}" if section == "model" else f"--{name}"


def config_differences(mine: dict, chief: dict) -> list[str]:
    """'--train_steps 8 here, 20 on the chief' for every setting of a resolved config (see
    `trainer.resolved_config`) that differs."""
    a = _flatten(json.loads(json.dumps(mine)))
    b = _flatten(json.loads(json.dumps(chief)))
    return [
        f"{_setting(key)} {a.get(key)!r} here, {b.get(key)!r} on the chief"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def _get(key: str, deadline: float, waiting_for: str) -> str:
    import tensorflow as tf
    from tensorflow.python.eager import context

    remaining = max(deadline - time.monotonic(), 1.0)
    try:
        return context.context().get_config_key_value(key, int(remaining * 1000))
    except tf.errors.OpError as error:
        raise ClusterError(
            f"no word from {waiting_for} while the workers compared their settings "
            f"({first_line(error)}); start every worker of TF_CONFIG, or raise --peer_timeout."
        ) from None


def handshake(cluster: Cluster, config: dict, model_dir: str, timeout: float) -> int:
    """Checks that all workers can train together; returns the step to resume from (0: fresh).

    The chief publishes its resolved config, the name of a file it has just written in
    `model_dir` and its latest complete checkpoint; each other worker compares its own config,
    looks for that file and checkpoint in its `model_dir`, and publishes its verdict. Every
    worker reads every verdict, so a problem stops all of them with the same explanation.
    """
    from tensorflow.python.eager import context

    deadline = time.monotonic() + timeout
    store = context.context()
    verdict = "ok"
    if cluster.is_chief:
        created = not Path(model_dir).exists()
        marker = Path(model_dir) / f".cluster-check-{secrets.token_hex(8)}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(dict(cluster.tasks)) + "\n")
        steps = model_dir_lib.checkpoint_steps(model_dir, "state")
        chief = {"config": config, "marker": marker.name, "start_step": steps[-1] if steps else 0}
        store.set_config_key_value(f"{_KEY}/chief", json.dumps(chief))
    else:
        chief = json.loads(_get(f"{_KEY}/chief", deadline, "the chief"))
        verdict = _verdict(cluster, config, chief, model_dir)
    store.set_config_key_value(f"{_KEY}/verdict/{cluster.task_id}", verdict)
    problems = []
    for task_id, (name, _) in enumerate(cluster.tasks):
        answer = _get(f"{_KEY}/verdict/{task_id}", deadline, name)
        if answer != "ok":
            problems.append(answer)  # each names its worker
    if cluster.is_chief:
        marker.unlink(missing_ok=True)
        if problems and created:
            with contextlib.suppress(OSError):
                Path(model_dir).rmdir()  # a run that cannot start leaves nothing
    if problems:
        raise ClusterError("; ".join(problems))
    return int(chief["start_step"])


def _verdict(cluster: Cluster, config: dict, chief: dict, model_dir: str) -> str:
    """'ok', or what keeps this worker from training with the chief, in one line."""
    differences = config_differences(config, chief["config"])
    if differences:
        return (
            f"{cluster.name} was started with other flags than the chief ("
            + "; ".join(differences)
            + "); start every worker with the same command and flags, only TF_CONFIG's task "
            "differing."
        )
    if not (Path(model_dir) / chief["marker"]).is_file():
        return (
            f"--model_dir {model_dir} is not shared: {cluster.name} does not see the file "
            f"{chief['marker']} the chief has just written there; give every worker the same "
            "directory on a file system they all mount (e.g. NFS)."
        )
    step = chief["start_step"]
    if step and not model_dir_lib.checkpoint_path(model_dir, step, "state").is_file():
        return (
            f"{cluster.name} does not see checkpoints/state-{step:08d}.weights.h5, which the "
            f"chief resumes from, in --model_dir {model_dir}; give every worker the same shared "
            "directory."
        )
    return "ok"

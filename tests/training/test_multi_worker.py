"""Training on two workers: real `bin/train` processes with a two-worker TF_CONFIG on 127.0.0.1.

Both end with the same weights, only the chief writes the model directory, a killed worker's run
resumes to the weights of an uninterrupted one, every failure to form a cluster ends in one line
within a bounded time, each worker reads its own share of every global batch, and one step on
two workers is one step on one worker with their combined batch.
"""

import dataclasses
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipsync_tf import model_dir as model_dir_lib
from lipsync_tf.config import ModelConfig
from lipsync_tf.training import cluster as cluster_lib
from lipsync_tf.training.watchdog import message as watchdog_message
from tests.data.helpers import write_training_shards
from tests.training import workers as workers_lib
from tests.training.updates import compare

REPO = Path(__file__).resolve().parents[2]
STEPS = 8
# Bounds for whole runs on 2 shared cores: the first step of each worker traces the GAN.
RUN_SECONDS = 900


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_training_shards(tmp_path_factory.mktemp("worker_shards"))


@pytest.fixture(scope="module")
def mouth_head_config(tmp_path_factory):
    """tiny.json with a mouth head, so the audio-only pretraining phase runs too."""
    path = tmp_path_factory.mktemp("model_config") / "tiny_mouth_head.json"
    tiny = ModelConfig.from_json(REPO / "configs/models/tiny.json")
    dataclasses.replace(tiny, mouth_head=True).to_json(path)
    return path


def train_argv(shards, model_dir, model_config, *extra) -> list[str]:
    return [
        "bin/train", "--flagfile=configs/tiny.cfg", f"--data_dir={shards}",
        f"--model_dir={model_dir}", "--validation_speakers=s2", f"--train_steps={STEPS}",
        "--checkpoint_every=2", "--validation_every=4", f"--model_config={model_config}",
        "--pretrain_mouth_steps=2", "--pretrain_batch_size=4", "--peer_timeout=120", *extra,
    ]  # fmt: skip


def run_two_workers(argvs, directory, timeout=RUN_SECONDS, ports=None):
    """Starts two workers (argvs[i] for worker i) and waits for both; returns the workers."""
    ports = ports or workers_lib.free_ports(2)
    workers = [workers_lib.start(argv, i, ports, directory) for i, argv in enumerate(argvs)]
    with workers_lib.started(workers):
        workers_lib.wait_all(workers, timeout)
    return workers


def trained_sha(worker) -> str:
    found = re.findall(r"Trained to step (\d+) .* generator sha256 ([0-9a-f]{16})", worker.text())
    assert found, worker.text()[-3000:]
    step, sha = found[-1]
    assert int(step) == STEPS
    return sha


def generator_weights(model_dir):
    generator, _, step = model_dir_lib.restore_generator(model_dir)
    return [w.numpy() for w in generator.weights], step


@pytest.fixture(scope="module")
def uninterrupted(shards, mouth_head_config, tmp_path_factory):
    """Two workers training STEPS steps (after 2 pretraining steps) from scratch."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    argv = train_argv(shards, directory / "run", mouth_head_config)
    workers = run_two_workers([argv, argv], directory)
    for worker in workers:
        assert worker.process.returncode == 0, worker.text()[-3000:]
    return directory / "run", workers


@pytest.mark.large
def test_two_workers_reach_the_same_step_with_identical_weights(uninterrupted):
    model_dir, workers = uninterrupted
    chief, other = (trained_sha(worker) for worker in workers)
    assert chief == other
    # ... and they are the weights the chief saved (the sha covers every generator weight).
    from lipsync_tf.training.trainer import weights_sha256

    generator, _, step = model_dir_lib.restore_generator(model_dir)
    assert step == STEPS
    assert weights_sha256(generator)[:16] == chief
    # The audio-only pretraining ran on both, on its share of each batch.
    for worker in workers:
        assert "mouth head pretraining step 2/2" in worker.text()


@pytest.mark.large
def test_only_the_chief_writes_config_checkpoints_and_events(uninterrupted):
    model_dir, (chief, other) = uninterrupted
    assert (model_dir / "config.json").is_file()
    assert model_dir_lib.checkpoint_steps(model_dir) == [4, 6, 8]  # keep_checkpoints=3
    events = list((model_dir / "logs").rglob("events.out.tfevents.*"))
    assert {path.parent.name for path in events} == {"train", "validation"}
    # Event file names end in .<host>.<pid>.<n>.v2: every one is the chief's.
    assert {int(path.name.split(".")[-3]) for path in events} == {chief.pid}
    # Nothing half-written or left over from the handshake.
    assert not [p for p in model_dir.rglob(".*") if p.is_file()]
    # The other worker wrote into a scratch directory of its own and deleted it.
    scratch = re.search(r"scratch (\S+) \(deleted at exit\)", other.text())
    assert scratch, other.text()[-3000:]
    assert Path(scratch.group(1)).parent == other.tmpdir
    assert not Path(scratch.group(1)).exists()
    assert not list(other.tmpdir.iterdir())
    assert "scratch" not in chief.text()


@pytest.mark.large
def test_a_killed_worker_resumes_from_the_last_checkpoint_to_the_same_weights(
    shards, mouth_head_config, uninterrupted, tmp_path
):
    model_dir = tmp_path / "run"
    argv = train_argv(shards, model_dir, mouth_head_config)
    ports = workers_lib.free_ports(2)
    first = [workers_lib.start(argv, i, ports, tmp_path / "first") for i in range(2)]
    with workers_lib.started(first):
        workers_lib.wait_for(
            lambda: model_dir_lib.checkpoint_steps(model_dir), RUN_SECONDS, "a checkpoint", first
        )
        # The chief: the only writer of model_dir and the coordination service's leader.
        first[0].process.send_signal(signal.SIGKILL)
        codes = workers_lib.wait_all(first, timeout=180)
    assert codes[0] == -signal.SIGKILL
    # The survivor notices within the heartbeat timeout and says what to do, in one line.
    assert codes[1] == 1, first[1].text()[-3000:]
    assert "Traceback" not in first[1].text()
    assert re.fullmatch(
        r"bin/train: worker 1 lost contact with another worker \(.*\); the last complete "
        r"checkpoint is step \d+ in .*; restart every worker with the same command to resume "
        r"from it\.",
        first[1].last_line(),
    ), first[1].last_line()
    saved = model_dir_lib.checkpoint_steps(model_dir, "state")
    assert saved and saved[-1] < STEPS
    # Every checkpoint under its final name is complete, whatever the kill interrupted.
    for step in model_dir_lib.checkpoint_steps(model_dir):
        model_dir_lib.restore_generator(model_dir, step)

    second = run_two_workers([argv, argv], tmp_path / "second", ports=ports)
    for worker in second:
        assert worker.process.returncode == 0, worker.text()[-3000:]
        assert f"Resuming from step {saved[-1]}" in worker.text()
        assert "pretraining" not in worker.text()
    _, (reference, _) = uninterrupted
    assert trained_sha(second[0]) == trained_sha(second[1]) == trained_sha(reference)
    resumed, step = generator_weights(model_dir)
    straight, _ = generator_weights(uninterrupted[0])
    assert step == STEPS
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not list(model_dir_lib.checkpoint_dir(model_dir).glob(".tmp-*"))


@pytest.mark.large
def test_sigterm_stops_a_worker_and_the_other_says_so(shards, tmp_path):
    """Schedulers preempt with SIGTERM, which TensorFlow's preemption notifier would swallow."""
    argv = [
        "bin/train", "--flagfile=configs/tiny.cfg", f"--data_dir={shards}",
        f"--model_dir={tmp_path / 'run'}", "--validation_speakers=s2", f"--train_steps={STEPS}",
        "--checkpoint_every=2", "--peer_timeout=120",
    ]  # fmt: skip
    ports = workers_lib.free_ports(2)
    workers = [workers_lib.start(argv, i, ports, tmp_path) for i in range(2)]
    with workers_lib.started(workers):
        workers_lib.wait_for(
            lambda: model_dir_lib.checkpoint_steps(tmp_path / "run"), RUN_SECONDS, "a checkpoint",
            workers,
        )  # fmt: skip
        workers[1].process.send_signal(signal.SIGTERM)
        codes = workers_lib.wait_all(workers, timeout=180)
    assert codes == [1, -signal.SIGTERM], workers[0].text()[-3000:]
    assert workers[0].last_line().startswith("bin/train: worker 0 lost contact with another "), (
        workers[0].text()[-3000:]
    )


@pytest.fixture(scope="module")
def worker_steps(shards, tmp_path_factory):
    """tests/training/worker_step.py on one lone process (global batch 4 on one replica), then on
    two workers (2 + 2); the JSON and arrays each wrote."""
    directory = tmp_path_factory.mktemp("worker_step")
    script = str(Path(__file__).with_name("worker_step.py"))
    init = str(directory / "init.weights.h5")
    completed = subprocess.run(
        [sys.executable, script, str(shards), init, str(directory / "lone")],
        capture_output=True, text=True, timeout=RUN_SECONDS, cwd=REPO,
        env=dict(workers_lib.os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2"),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    argvs = [[script, str(shards), init, str(directory / f"worker{i}")] for i in range(2)]
    for worker in run_two_workers(argvs, directory):
        assert worker.process.returncode == 0, worker.text()[-3000:]
    results = {}
    for name in ("lone", "worker0", "worker1"):
        values = json.loads((directory / f"{name}.json").read_text())
        values["arrays"] = dict(np.load(directory / f"{name}.npz"))
        results[name] = values
    return results


@pytest.mark.large
def test_each_worker_reads_its_own_half_of_every_global_batch(worker_steps):
    lone, first, second = (worker_steps[name] for name in ("lone", "worker0", "worker1"))
    # Step by step, worker 0 gets the first half of the lone process's global batch and worker
    # 1 the second: across workers no example is read twice and none is left out.
    steps = zip(first["windows"], second["windows"], lone["windows"], strict=True)
    for step, (a, b, both) in enumerate(steps):
        assert len(a) == len(b) == 2 and a + b == both, step
    read = [tuple(window) for step in first["windows"] + second["windows"] for window in step]
    assert len(set(read)) == len(read) == 16
    # Over these 4 steps (2 epochs of the 4 training clips) both workers read real windows of
    # every training clip (codes 0, 1, 3, 4; speaker s2 is held out).
    assert {window[0] for window in read} == {0, 1, 3, 4}
    # The control: without tf.data's auto-sharding both workers read the same examples.
    assert first["unsharded"] == second["unsharded"]


@pytest.mark.large
def test_one_step_on_two_workers_matches_one_worker_with_their_combined_batch(worker_steps):
    lone, first, second = (worker_steps[name] for name in ("lone", "worker0", "worker1"))
    count = len(lone["variables"])
    assert count > 50 and first["variables"] == lone["variables"]

    def values(result, kind):
        return [result["arrays"][f"{kind}/{i}"] for i in range(count)]

    before = values(lone, "before")
    for result in (first, second):
        for a, b in zip(before, values(result, "before"), strict=True):
            np.testing.assert_array_equal(a, b)
    # The workers' weights stay identical: every worker applies the same all-reduced gradient.
    for a, b in zip(values(first, "after"), values(second, "after"), strict=True):
        np.testing.assert_array_equal(a, b)
    same = compare(lone["variables"], before, values(lone, "after"), values(first, "after"))
    # Per variable, in norm, up to float32 summation order: measured 1.8e-3 at worst (an
    # identity-encoder normalisation gamma), 1.8e-4 median, 6.5e-5 over all variables; the
    # limits are those of the 2-replica test (tests/training/test_trainer.py).
    assert same["max_relative_diff"] < 0.05, same
    assert same["overall_relative_diff"] < 1e-3, same
    # The check can fail: each worker averaging over its own examples doubles the update.
    wrong = compare(
        lone["variables"], before, values(lone, "after"), values(first, "per_replica_mean")
    )
    assert wrong["median_relative_diff"] > 0.5, wrong
    assert wrong["overall_relative_diff"] > 0.5, wrong


@pytest.mark.large
def test_a_missing_peer_stops_each_worker_within_its_timeout_in_one_line(shards, tmp_path):
    """Worker 0 (the coordination leader) and worker 1 of two clusters whose other worker never
    starts: TensorFlow alone would keep the leader waiting forever."""
    runs = []
    for index in range(2):
        ports = workers_lib.free_ports(2)
        argv = [
            "bin/train", "--flagfile=configs/tiny.cfg", f"--data_dir={shards}",
            f"--model_dir={tmp_path / f'run{index}'}", "--validation_speakers=s2",
            "--peer_timeout=15",
        ]  # fmt: skip
        runs.append((workers_lib.start(argv, index, ports, tmp_path / f"alone{index}"), ports))
    alone = [worker for worker, _ in runs]
    with workers_lib.started(alone):
        # Bounded: 15 s plus start-up; the wait fails the test if either keeps running.
        workers_lib.wait_all(alone, timeout=300)
    for index, (worker, ports) in enumerate(runs):
        assert worker.process.returncode == -signal.SIGKILL, worker.text()[-3000:]
        other = 1 - index
        assert worker.last_line() == (
            f"bin/train: worker {index} could not form the cluster within 15 s: nothing answers "
            f"at worker {other} at 127.0.0.1:{ports[other]} (is it running, with this TF_CONFIG "
            "cluster, and is the address reachable from here?); start every worker of "
            "TF_CONFIG, or raise --peer_timeout."
        )
        assert "Traceback" not in worker.text()
        assert not (tmp_path / f"run{index}").exists()


@pytest.mark.large
def test_a_model_dir_that_is_not_shared_is_refused_by_every_worker(shards, tmp_path):
    argvs = [
        ["bin/train", "--flagfile=configs/tiny.cfg", f"--data_dir={shards}",
         f"--model_dir={tmp_path / name}", "--validation_speakers=s2", "--peer_timeout=120"]
        for name in ("on_host0", "on_host1")
    ]  # fmt: skip
    workers = run_two_workers(argvs, tmp_path, timeout=300)
    for worker in workers:
        assert worker.process.returncode == 1, worker.text()[-3000:]
        assert "Traceback" not in worker.text()
        assert re.fullmatch(
            rf"bin/train: --model_dir {tmp_path / 'on_host1'} is not shared: worker 1 does not "
            r"see the file \.cluster-check-[0-9a-f]+ the chief has just written there; give "
            r"every worker the same directory on a file system they all mount \(e\.g\. NFS\)\.",
            worker.last_line(),
        ), worker.last_line()
    # The chief's check file is gone, and so is the directory it created for it.
    assert not (tmp_path / "on_host0").exists()
    assert not (tmp_path / "on_host1").exists()


@pytest.mark.large
def test_workers_with_different_flags_are_refused_naming_the_flags(shards, tmp_path):
    argv = [
        "bin/train", "--flagfile=configs/tiny.cfg", f"--data_dir={shards}",
        f"--model_dir={tmp_path / 'run'}", "--validation_speakers=s2", "--peer_timeout=120",
    ]  # fmt: skip
    workers = run_two_workers([argv, [*argv, "--train_steps=8", "--l1_weight=3"]], tmp_path, 300)
    expected = (
        "bin/train: worker 1 was started with other flags than the chief (--l1_weight 3.0 here, "
        "100.0 on the chief; --train_steps 8 here, 20 on the chief); start every worker with "
        "the same command and flags, only TF_CONFIG's task differing."
    )
    for worker in workers:
        assert worker.process.returncode == 1, worker.text()[-3000:]
        assert worker.last_line() == expected
        assert "Traceback" not in worker.text()
    assert not (tmp_path / "run").exists()


def test_a_task_not_in_the_cluster_is_refused_in_one_line(shards, tmp_path):
    worker = workers_lib.start(
        ["bin/train", "--flagfile=configs/tiny.cfg", f"--data_dir={shards}",
         f"--model_dir={tmp_path / 'run'}"],
        2, [12345, 12346], tmp_path,
    )  # fmt: skip
    with workers_lib.started([worker]):
        workers_lib.wait_all([worker], timeout=300)
    assert worker.process.returncode == 1
    assert worker.last_line() == (
        "bin/train: TF_CONFIG task 'worker' 2 is not in its cluster (which has worker 0..1); "
        "give each process its own task from the cluster's list."
    )
    assert "Traceback" not in worker.text()


@pytest.mark.parametrize(
    ("tf_config", "problem"),
    [
        ("{", "is not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', 'needs a "cluster" object'),
        ('{"cluster": {"ps": ["a:1"], "worker": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
         "has ['ps'] jobs"),
        ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}',
         "lists a:1 twice"),
        ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}',
         "is not \"host:port\""),
        ('{"cluster": {"worker": ["a:1"]}}', 'needs "task"'),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
         "task 'chief' 0 is not in its cluster"),
        ('{"cluster": {"chief": ["a:1", "b:2"]}, "task": {"type": "chief", "index": 0}}',
         "several \"chief\" tasks"),
    ],
)  # fmt: skip
def test_tf_config_problems_are_named(tf_config, problem):
    with pytest.raises(cluster_lib.ClusterError, match=re.escape(problem)):
        cluster_lib.parse_tf_config(tf_config)


def test_a_cluster_with_a_chief_numbers_the_chief_first():
    cluster = cluster_lib.parse_tf_config(
        '{"cluster": {"worker": ["w0:1", "w1:2"], "chief": ["c:3"]}, '
        '"task": {"type": "worker", "index": 1}}'
    )
    assert cluster.tasks == [("chief", "c:3"), ("worker 0", "w0:1"), ("worker 1", "w1:2")]
    assert (cluster.task_id, cluster.name, cluster.is_chief) == (2, "worker 1", False)
    assert cluster.peers() == [("chief", "c:3"), ("worker 0", "w0:1")]


def test_config_differences_name_the_flags():
    chief = {"model": {"noise_dim": 10}, "data": {"batch_size": 4}, "train": {"seed": 0}}
    mine = {"model": {"noise_dim": 3}, "data": {"batch_size": 4}, "train": {"seed": 1}}
    assert cluster_lib.config_differences(mine, chief) == [
        "--model_config's noise_dim 3 here, 10 on the chief",
        "--seed 1 here, 0 on the chief",
    ]
    assert cluster_lib.config_differences(chief, chief) == []


def test_the_watchdog_names_the_peers_that_do_not_answer():
    port = workers_lib.free_ports(1)[0]
    line = watchdog_message("worker 0", 15, [("worker 1", f"127.0.0.1:{port}")])
    assert line.startswith(
        f"bin/train: worker 0 could not form the cluster within 15 s: nothing answers at "
        f"worker 1 at 127.0.0.1:{port} "
    )

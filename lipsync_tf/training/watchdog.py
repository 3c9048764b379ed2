"""Stops a worker that cannot form its cluster in time (run as a script by `cluster.joining`).

    python watchdog.py PARENT_PID TIMEOUT_SECONDS WHO PEERS_JSON

A plain Python process, no TensorFlow: it waits for its stdin to close. The trainer closes it
once the cluster has formed; if the trainer dies, the pipe closes too. Either way the watchdog
exits quietly. If `TIMEOUT_SECONDS` pass first, it probes each peer's address, prints one line
saying which do not answer, and SIGKILLs the trainer: TensorFlow's coordination leader waits for
stragglers without a limit, holding the GIL, and its preemption notifier swallows SIGTERM.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys


def silent_peers(peers: list[tuple[str, str]]) -> list[str]:
    """'worker 1 at host:port' for each peer whose address refuses a TCP connection."""
    silent = []
    for name, address in peers:
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=2).close()
        except OSError:
            silent.append(f"{name} at {address}")
    return silent


def message(who: str, timeout: float, peers: list[tuple[str, str]]) -> str:
    silent = silent_peers(peers)
    if silent:
        why = (
            f"nothing answers at {', '.join(silent)} (is it running, with this TF_CONFIG "
            "cluster, and is the address reachable from here?)"
        )
    else:
        why = (
            "every peer answers at its address, yet the cluster did not form (are they all "
            "running bin/train with this same TF_CONFIG cluster?)"
        )
    return (
        f"bin/train: {who} could not form the cluster within {timeout:.0f} s: {why}; start every "
        "worker of TF_CONFIG, or raise --peer_timeout."
    )


def main() -> None:
    parent, timeout, who = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    peers = [tuple(peer) for peer in json.loads(sys.argv[4])]
    if select.select([sys.stdin], [], [], timeout)[0]:
        return  # released, or the trainer is gone
    sys.stderr.write(message(who, timeout, peers) + "\n")
    sys.stderr.flush()
    os.kill(parent, signal.SIGKILL)


if __name__ == "__main__":
    main()

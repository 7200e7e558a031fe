"""A replacement instance takes over the port without one refused or reset connection.

The rolling update of a local service starts the new instance on the same port, waits until it is
ready, then stops the old one. With plain SO_REUSEPORT each instance has its own listening socket,
and closing the old one resets the connections still in its accept queue (about one in a few
thousand under load). The new instance therefore adopts the old one's socket (one shared accept
queue), which these tests check under load and through the kernel's own view of the sockets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.unit.serving.helpers import Server, free_port, rows_body, training_data

ROLLOVERS = 4
CLIENTS = 4


def _listening_inodes(pid: int) -> set[str]:
    """The socket inodes a process holds (``socket:[N]`` links under /proc/PID/fd)."""
    found: set[str] = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target)
    return found


def _listen_inodes_for_port(port: int) -> set[str]:
    """Inodes of the sockets listening on 127.0.0.1:port, from /proc/net/tcp."""
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            inodes.add(f"socket:[{inode}]")
    return inodes


def test_new_instance_adopts_the_listening_socket(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    port = free_port()
    old = start_server(xgb_model[0], port=port, instance_id="old")
    new = start_server(xgb_model[0], port=port, instance_id="new")
    assert len(_listen_inodes_for_port(port)) == 1, "two listening sockets: the new one bound its own"
    (inode,) = _listen_inodes_for_port(port)
    assert old.proc is not None and new.proc is not None
    assert inode in _listening_inodes(old.proc.pid) and inode in _listening_inodes(new.proc.pid)


@pytest.mark.slow  # over 7 s: many CLI runs or a deliberate wait
def test_rollovers_under_load_lose_no_request(
    xgb_model: tuple[Path, Any], start_server: Callable[..., Server]
) -> None:
    port = free_port()
    x, _ = training_data(1, seed=5)
    body = rows_body(x)
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:  # a new connection per request: each one is placed by the kernel afresh
                r = httpx.post(f"http://127.0.0.1:{port}/predict", json=body, timeout=30)
                if r.status_code == 200:
                    answered[0] += 1
                else:
                    failures.append(str(r.status_code))
            except httpx.HTTPError as exc:
                failures.append(repr(exc))

    current = start_server(xgb_model[0], port=port, instance_id="v0")
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        for version in range(1, ROLLOVERS + 1):
            replacement = start_server(xgb_model[0], port=port, instance_id=f"v{version}")
            current.stop()
            current = replacement
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [], (len(failures), failures[:3], answered[0])
    assert answered[0] > 100

"""Hand an instance's listening socket to its replacement, so a rollover resets no connection.

With SO_REUSEPORT alone every instance owns a listening socket of its own, and closing one resets
the connections still waiting in its accept queue. Instead, the first instance on a port binds it
and answers on an abstract Unix socket named after the port; a later instance asks there and gets
the very same listening socket (SCM_RIGHTS), so all instances accept from one queue and the last
one holding it decides when it closes. Only a process of the same user is answered (SO_PEERCRED).
Where none of this is possible (no answer, another OS), an instance binds its own socket as before.
"""

from __future__ import annotations

import logging
import os
import socket
import struct

LOG = logging.getLogger("mlrt.serving")

ASK_TIMEOUT_S = 2.0


def rendezvous(host: str, port: int) -> str:
    """The abstract socket name (leading NUL) for one user's instances on host:port."""
    return f"\0mlrt-serve/{os.getuid()}/{host}/{port}"


def ask_for_socket(host: str, port: int) -> socket.socket | None:
    """The listening socket of a running instance on host:port, or None when none answers."""
    if port == 0 or not hasattr(socket, "AF_UNIX"):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(ASK_TIMEOUT_S)
            conn.connect(rendezvous(host, port))
            _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    except OSError:
        return None
    if not fds:
        return None
    sock = socket.socket(fileno=fds[0])
    if sock.getsockname()[1] != port:  # not what was asked for: do not serve on it
        sock.close()
        return None
    return sock


class HandoffPoint:
    """The answering side: one per port at a time; ``serve_one`` when its fileno is readable."""

    def __init__(self, host: str, port: int, listening: socket.socket) -> None:
        self.host = host
        self.port = port
        self.listening = listening
        self.point: socket.socket | None = None
        self.handed = 0

    def open_point(self) -> socket.socket | None:
        """Take the rendezvous name unless another instance holds it; the socket to wait on, if so."""
        if self.point is not None:
            return self.point
        if self.port == 0 or not hasattr(socket, "AF_UNIX"):
            return None
        point = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            point.bind(rendezvous(self.host, self.port))
            point.listen(8)
        except OSError:
            point.close()
            return None
        point.setblocking(False)
        self.point = point
        return point

    def serve_one(self) -> None:
        """Hand the listening socket to the process that connected, if it runs as this user."""
        assert self.point is not None
        try:
            conn, _ = self.point.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(ASK_TIMEOUT_S)
            try:
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
                _, uid, _ = struct.unpack("3i", creds)
                if uid != os.getuid():
                    LOG.warning("refused the listening socket to uid %d (not this user)", uid)
                    return
                socket.send_fds(conn, [b"s"], [self.listening.fileno()])
                self.handed += 1
            except OSError as exc:
                LOG.warning("could not hand the listening socket over: %s", exc)

    def close(self) -> None:
        if self.point is not None:
            self.point.close()
            self.point = None

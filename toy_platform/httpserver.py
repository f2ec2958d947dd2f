"""Serving a WSGI app with waitress: on sockets of our own, without a busy loop.

The listening sockets are made here, not by waitress: waitress sets SO_REUSEADDR, which on
Windows lets a second socket bind the same address, so a second service on a taken port
would start instead of failing. On Windows they take SO_EXCLUSIVEADDRUSE instead.

While a task thread answers a request, waitress's main loop asks to write to that connection
whenever the answer sits in its buffer. The task thread sends its own output and holds the
buffer's lock while it does, so the main loop finds the lock taken and asks again at once.
Under load, with many open connections and every thread waiting its turn for the GIL, that
loop spun thousands of times a second and took a third of the middleware's CPU.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer


class TaskFlushedChannel(HTTPChannel):  # type: ignore[misc]  # waitress is untyped
    """A connection the main loop leaves to its task thread while the task runs.

    The main loop still writes when the task has finished (it pulls the trigger then), when
    the connection is closing, and when the task waits for it to drain a full buffer.
    """

    def writable(self) -> bool:
        task_sends_its_own = (
            self.requests
            and not (self.will_close or self.close_when_flushed)
            and self.total_outbufs_len <= self.adj.outbuf_high_watermark
        )
        return False if task_sends_its_own else bool(super().writable())


SO_EXCLUSIVEADDRUSE = getattr(socket, "SO_EXCLUSIVEADDRUSE", -5)  # Windows only


def listening_sockets(
    host: str, port: int, make_socket: Callable[..., socket.socket] = socket.socket
) -> list[socket.socket]:
    """Sockets bound to every address of HOST:PORT, that no other socket can share.
    OSError (the port taken, the address not ours) as binding raises it."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = make_socket(family, kind, proto)
            sockets.append(sock)
            if sys.platform == "win32":
                sock.setsockopt(socket.SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1)
            else:  # POSIX: only a connection's TIME_WAIT may share the port, never a listener
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def create_server(app: Any, host: str, port: int, **adjustments: Any) -> Any:
    """waitress.create_server on listening_sockets(HOST, PORT), with TaskFlushedChannel for
    every connection accepted."""
    sockets: dict[int, Any] = {}
    bound = listening_sockets(host, port)
    server = waitress.create_server(app, map=sockets, sockets=bound, **adjustments)
    for listener in sockets.values():
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = TaskFlushedChannel
    return server


def serve(app: Any, **adjustments: Any) -> None:
    """Serve APP until the process is stopped (waitress.serve, minus its logging setup)."""
    create_server(app, **adjustments).run()

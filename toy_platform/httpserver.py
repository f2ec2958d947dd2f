"""Serving a WSGI app with waitress, without a busy loop in waitress's main thread.

While a task thread answers a request, waitress's main loop asks to write to that connection
whenever the answer sits in its buffer. The task thread sends its own output and holds the
buffer's lock while it does, so the main loop finds the lock taken and asks again at once.
Under load, with many open connections and every thread waiting its turn for the GIL, that
loop spun thousands of times a second and took a third of the middleware's CPU.
"""

from __future__ import annotations

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


def create_server(app: Any, **adjustments: Any) -> Any:
    """waitress.create_server, with TaskFlushedChannel for every connection accepted."""
    sockets: dict[int, Any] = {}
    server = waitress.create_server(app, map=sockets, **adjustments)
    for listener in sockets.values():
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = TaskFlushedChannel
    return server


def serve(app: Any, **adjustments: Any) -> None:
    """Serve APP until the process is stopped (waitress.serve, minus its logging setup)."""
    create_server(app, **adjustments).run()

"""The services' HTTP server: waitress with TaskFlushedChannel, on a free loopback port."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import urllib3
from waitress import wasyncore

from toy_platform.httpserver import (
    SO_EXCLUSIVEADDRUSE,
    TaskFlushedChannel,
    create_server,
    listening_sockets,
)

MIB = 1024 * 1024


def pattern(size: int, seed: int = 0) -> bytes:
    """SIZE bytes that differ along their length, so a lost or reordered piece shows."""
    block = bytes((seed + n) % 251 for n in range(251))
    return (block * (size // len(block) + 1))[:size]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/big":  # one answer far larger than the socket's buffers
        body = pattern(8 * MIB)
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/stream":  # many pieces, more than the buffer may hold before the task waits
        start_response("200 OK", [("Content-Length", str(40 * 256 * 1024))])
        return (pattern(256 * 1024, seed=n) for n in range(40))
    if path == "/slow":  # part of the answer, a pause, then the rest
        start_response("200 OK", [("Content-Length", "10")])
        return _slow_answer()
    body = path.encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def _slow_answer() -> Iterator[bytes]:
    yield b"first"
    time.sleep(0.3)
    yield b"later"


@pytest.fixture
def server_url() -> Iterator[str]:
    # A small high-water mark, so /stream fills it and its task must wait for the main loop.
    server = create_server(app, host="127.0.0.1", port=0, threads=4, outbuf_high_watermark=MIB)
    assert server.channel_class is TaskFlushedChannel
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.task_dispatcher.shutdown()
    wasyncore.close_all(server._map)  # the loop notices within its 1 s select timeout


def test_an_answer_larger_than_the_socket_buffers_arrives_whole(server_url: str) -> None:
    response = urllib3.request("GET", f"{server_url}/big", timeout=10, retries=False)
    assert response.status == 200 and response.data == pattern(8 * MIB)


def test_a_streamed_answer_past_the_high_water_mark_arrives_whole_to_a_slow_reader(
    server_url: str,
) -> None:
    response = urllib3.request(
        "GET", f"{server_url}/stream", timeout=10, retries=False, preload_content=False
    )
    time.sleep(0.5)  # let the server's buffer fill before reading
    received = response.read()
    assert received == b"".join(pattern(256 * 1024, seed=n) for n in range(40))


def test_answers_on_one_connection_each_arrive_in_order(server_url: str) -> None:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", int(server_url.rsplit(":", 1)[1]), maxsize=1)
    for n in range(200):
        response = pool.request("GET", f"/n{n}", timeout=5, retries=False)
        assert response.data == f"/n{n}".encode()
    assert pool.num_connections == 1


def test_an_answer_written_in_pieces_with_a_pause_between_arrives_whole(server_url: str) -> None:
    response = urllib3.request("GET", f"{server_url}/slow", timeout=5, retries=False)
    assert response.data == b"firstlater"


def test_many_clients_at_once_each_get_their_own_answer(server_url: str) -> None:
    pool = urllib3.PoolManager(maxsize=32)
    results: dict[int, bytes] = {}

    def fetch(n: int) -> None:
        for k in range(20):
            data = pool.request("GET", f"{server_url}/c{n}-{k}", timeout=5, retries=False).data
            results[n * 100 + k] = data

    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n * 100 + k: f"/c{n}-{k}".encode() for n in range(32) for k in range(20)}


def test_a_second_server_on_a_taken_port_fails_to_start() -> None:
    first = create_server(lambda e, s: [], host="127.0.0.1", port=0, threads=1)
    try:
        with pytest.raises(OSError):
            create_server(lambda e, s: [], host="127.0.0.1", port=first.effective_port, threads=1)
    finally:
        first.close()


class _Socket:
    """A socket that records its options, as Windows would be asked for them."""

    def __init__(self, *args: object) -> None:
        self.options: dict[int, int] = {}

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options[option] = value

    def bind(self, address: object) -> None:
        pass

    def close(self) -> None:
        pass


def test_on_windows_a_listening_socket_is_exclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    """SO_REUSEADDR (waitress's choice) lets a second socket bind the port on Windows: a
    second core would start instead of failing; SO_EXCLUSIVEADDRUSE does not."""
    monkeypatch.setattr(sys, "platform", "win32")
    (sock,) = listening_sockets("127.0.0.1", 6301, make_socket=_Socket)  # type: ignore[arg-type]
    options = sock.options  # type: ignore[attr-defined]
    assert options.get(SO_EXCLUSIVEADDRUSE) == 1
    assert socket.SO_REUSEADDR not in options

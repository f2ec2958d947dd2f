"""The Python client's transport: errors a person can read, proxies, and no silent resends."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from toy_platform.client import PlatformClient, PlatformError

Answer = Callable[[socket.socket, bytes], None]


class TinyServer:
    """A loopback TCP server that records each request's head and answers with ANSWER."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = conn.recv(65536)
                self.requests.append(head)
                self.answer(conn, head)


def json_answer(conn: socket.socket, head: bytes) -> None:
    body = json.dumps({"token": "t", "username": "alice"}).encode()
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], TinyServer]]:
    servers: list[TinyServer] = []

    def start(answer: Answer) -> TinyServer:
        servers.append(TinyServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.sock.close()


def test_a_refused_connection_says_so() -> None:
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    client = PlatformClient(f"http://127.0.0.1:{port}", "http://127.0.0.1:9")
    with pytest.raises(PlatformError) as err:
        client.login("alice", "pw")
    assert err.value.unreachable and err.value.service == "auth"
    assert "connection refused (not running?)" in err.value.message


def test_a_silent_service_times_out_with_a_clear_reason(
    serve: Callable[[Answer], TinyServer],
) -> None:
    stalled = threading.Event()
    silent = serve(lambda conn, head: stalled.wait(5))
    client = PlatformClient(silent.url, silent.url, timeout=0.3)
    with pytest.raises(PlatformError) as err:
        client.login("alice", "pw")
    stalled.set()
    assert err.value.unreachable
    assert "no answer within 0.3 s (timeout)" in err.value.message


def test_a_dropped_connection_is_not_sent_again(serve: Callable[[Answer], TinyServer]) -> None:
    """Resending a POST after the connection broke could submit the same job twice."""
    hangs_up = serve(lambda conn, head: None)
    client = PlatformClient(hangs_up.url, hangs_up.url, token="t")
    with pytest.raises(PlatformError) as err:
        client.submit_job("greeting", "hello")
    assert err.value.unreachable
    assert len(hangs_up.requests) == 1


def test_calls_go_through_the_proxy_the_environment_names(
    serve: Callable[[Answer], TinyServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = serve(json_answer)
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("no_proxy", "direct.example")
    client = PlatformClient("http://auth.example:6300", "http://direct.example:6302")
    assert client.login("alice", "pw")["token"] == "t"
    assert proxy.requests[0].startswith(b"POST http://auth.example:6300/login HTTP/1.1")


def test_no_proxy_hosts_are_called_directly(
    serve: Callable[[Answer], TinyServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = serve(json_answer)
    proxy = serve(json_answer)
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    client = PlatformClient(auth.url, auth.url)
    assert client.login("alice", "pw")["username"] == "alice"
    assert auth.requests[0].startswith(b"POST /login HTTP/1.1")
    assert proxy.requests == []

"""The hub under slow and many clients, on loopback (uvicorn in this process, the hub's own
HTTP protocol and request guard): a client that never finishes its headers is disconnected,
a body that never arrives is answered 408, and with hundreds of such clients hanging on, a
hundred concurrent requests are all answered. Bounded: no assertion on how long anything
takes, only on what is answered."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime

import httpx
import msgspec
import orjson
import pytest
import uvicorn

from openmhhs.api.config import ServeConfig
from openmhhs.api.hub_app import create_hub_app
from openmhhs.api.identity import PeerCertificateProtocol
from openmhhs.api.serve import MarketSource, prepare
from openmhhs.cli.model import read_description
from tests.serve_harness import AURORA, TODAY, free_port_block

SLOW_CLIENTS = 200
CONCURRENT_REQUESTS = 100


class QuickProtocol(PeerCertificateProtocol):
    header_timeout = 1.0


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ServeConfig]]:
    tmp = tmp_path_factory.mktemp("load")
    description, text = read_description("1a-fully-separated")
    port = free_port_block(1)
    config = prepare(
        tmp / "serve",
        database=f"sqlite:///{tmp / 'openmhhs.db'}",
        market=MarketSource(description, text, mpans=10, seed=1),
        explicit_market=False,
        host="127.0.0.1",
        port=port,
        plain=True,
        today=TODAY,
        now=datetime.now(UTC),
    )
    config = msgspec.structs.replace(config, body_timeout=1.0)
    server = uvicorn.Server(
        uvicorn.Config(
            create_hub_app(config, deliver=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            http=QuickProtocol,
            backlog=SLOW_CLIENTS + CONCURRENT_REQUESTS + 100,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield port, config
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_client_that_never_finishes_its_headers_is_disconnected(hub: tuple[int, ServeConfig]) -> None:
    port, _ = hub
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        sock.settimeout(30)  # a bound for the test, far above the hub's 1 s
        assert _read_all(sock) == b""  # closed by the hub, unanswered


def test_a_body_that_never_arrives_is_answered_408_with_its_code(hub: tuple[int, ServeConfig]) -> None:
    port, config = hub
    key = next(k for k, v in config.api_keys().items() if v == AURORA)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /validate/IF-031/DSApp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"X-API-Key: {key}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'[{"payload": '
        )
        sock.settimeout(30)
        answer = _read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert orjson.loads(body)["messageArray"][0]["message"].startswith("OMH0826")


def test_the_hub_keeps_answering_with_hundreds_of_slow_clients_hanging_on(
    hub: tuple[int, ServeConfig],
) -> None:
    port, config = hub
    key = next(k for k, v in config.api_keys().items() if v == AURORA)
    with ExitStack() as stack:
        for index in range(SLOW_CLIENTS):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
            if index % 2:  # half send part of their headers, half a part of a body
                sock.sendall(b"GET /api/mpans HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            else:
                sock.sendall(
                    b"POST /validate/IF-031/DSApp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + f"X-API-Key: {key}\r\nContent-Length: 100000\r\n\r\n[".encode()
                )

        def ask(_: int) -> int:
            with httpx.Client(timeout=60) as client:
                response = client.get(
                    f"http://127.0.0.1:{port}/api/mpans",
                    params={"on": TODAY.isoformat()},
                    headers={"X-API-Key": key},
                )
                return response.status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(ask, range(CONCURRENT_REQUESTS)))
    assert statuses == [200] * CONCURRENT_REQUESTS

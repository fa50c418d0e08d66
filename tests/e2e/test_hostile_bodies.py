"""Bodies over the limit, from an unauthenticated sender, against a real ingest process and a real worker
(the same routes): refused by their length, or read no further than the limit, so memory does not grow
(one 200 MiB POST used to grow the worker by 394 MiB)."""

from __future__ import annotations

import select
import time
import socket

import pytest

from tests.e2e.test_ingest_process import BOT, KEY, make_ingest  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e
HUGE = 200 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)


def rss_mib(pid: int) -> float:
    line = next(line for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def answer(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except (ConnectionResetError, TimeoutError):
        return b""


def request_head(path: str, framing: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{framing}\r\n\r\n").encode()


@pytest.mark.parametrize("path,framing,status", [
    ("/webhooks/telegram/nobot", "", b"413"),
    ("/v1/bots/nobot/events", "", b"401"),                                   # the key is asked for first
    (f"/v1/bots/{BOT}/events", f"Authorization: Bearer {KEY}\r\n", b"413"),  # authenticated: refused by its length
])
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(kafka_broker, make_ingest, path,
                                                                              framing, status):
    ingest = make_ingest(kafka_broker)
    with socket.create_connection(("127.0.0.1", ingest.port)) as sock:
        sock.sendall(request_head(path, f"{framing}Content-Length: {HUGE}"))
        reply = answer(sock)   # nothing of the body was sent: an answer at all means it was not waited for
    assert reply.startswith(b"HTTP/1.1 " + status), reply[:200]


@pytest.mark.parametrize("serving", ["ingest", "worker"])
def test_a_chunked_body_is_read_no_further_than_the_limit_and_memory_does_not_grow(kafka_broker, make_ingest,
                                                                                    make_worker, serving):
    ingest = make_ingest(kafka_broker) if serving == "ingest" else make_worker(kafka_broker).start()
    before = rss_mib(ingest.proc.pid)
    sent = 0
    with socket.create_connection(("127.0.0.1", ingest.port)) as sock:
        sock.sendall(request_head("/webhooks/telegram/nobot", "Transfer-Encoding: chunked"))
        try:
            while sent < HUGE and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
                sent += len(CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 32 * 1024 * 1024   # the answer came after the limit (1 MiB), not after 200 MiB
    assert rss_mib(ingest.proc.pid) - before < 32


def test_a_trickled_body_times_out_and_a_client_gone_mid_body_is_one_warning(kafka_broker, make_ingest):
    ingest = make_ingest(kafka_broker, CHATLENS_BODY_TIMEOUT_SECONDS="2")
    with socket.create_connection(("127.0.0.1", ingest.port)) as sock:
        sock.sendall(request_head("/webhooks/telegram/nobot", "Content-Length: 100") + b'{"upd')   # then nothing
        reply = answer(sock, timeout=15)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    with socket.create_connection(("127.0.0.1", ingest.port)) as sock:
        sock.sendall(request_head("/webhooks/telegram/nobot", "Content-Length: 100") + b'{"upd')
    deadline = time.monotonic() + 10
    while "client disconnected" not in ingest.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = ingest.log_path.read_text()
    assert "WARNING" in log and "client disconnected before its body arrived" in log
    assert "Traceback" not in log

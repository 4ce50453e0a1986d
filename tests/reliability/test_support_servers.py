"""Self-tests of the real-parts infrastructure: Redis, gunicorn and the fault server."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
import redis

from tests.support.faults import Fault, FaultServer, closed_port_url
from tests.support.gunicorn_server import GunicornServer
from tests.support.redis_server import RedisServer, redis_ping


def test_redis_server_answers_and_keeps_nothing_on_disk(redis_server: RedisServer) -> None:
    assert redis_ping(redis_server.port)
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.set("selftest", "1", ex=5)
        assert client.getdel("selftest") == b"1"
        assert client.get("selftest") is None
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        client.close()
    # No system Redis was left listening on the default port by an installation.
    with socket.socket() as sock:
        sock.settimeout(0.3)
        assert sock.connect_ex(("127.0.0.1", 6379)) != 0 or redis_server.port == 6379


def test_a_second_redis_server_starts_and_stops(redis_server: RedisServer) -> None:
    with RedisServer(redis_server.binary) as other:
        assert other.port != redis_server.port
        assert redis_ping(other.port)
        process = other.process
        assert process is not None
    assert process.poll() is not None  # stopped
    assert not redis_ping(other.port)


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_gunicorn_workers_are_distinct_processes(worker_class: str) -> None:
    with GunicornServer("tests.reliability.apps:create_pid_app()", worker_class=worker_class) as server:
        assert len(set(server.worker_pids)) == 2
        pids: set[int] = set()
        lock = threading.Lock()

        def ask() -> None:
            with httpx.Client(timeout=5, trust_env=False) as client:
                pid = client.get(server.url + "/pid?sleep=0.3").json()["pid"]
            with lock:
                pids.add(pid)

        for _ in range(20):  # bounded: concurrent slow requests spread over the workers
            threads = [threading.Thread(target=ask) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            if len(pids) == 2:
                break
        assert pids == set(server.worker_pids)
        process = server.process
        assert process is not None
    assert process.poll() is not None


def test_gunicorn_preload() -> None:
    with GunicornServer("tests.reliability.apps:create_pid_app()", preload=True) as server:
        assert httpx.get(server.url + "/pid", trust_env=False).json()["pid"] in server.worker_pids


def test_fault_server_faults() -> None:
    with FaultServer() as server, httpx.Client(timeout=0.5, trust_env=False) as client:
        assert client.get(server.url + "/any").text == "ok"
        server.script("/hang", Fault.hang(2))
        with pytest.raises(httpx.ReadTimeout):
            client.get(server.url + "/hang")
        server.script("/reset", Fault.reset())
        with pytest.raises(httpx.TransportError):
            client.get(server.url + "/reset")
        server.script("/trunc", Fault.truncate())
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(server.url + "/trunc")
        server.script("/huge", Fault.huge())
        assert len(client.get(server.url + "/huge").content) == 2 * 1024 * 1024
        server.script("/429", Fault.status(429, "slow down", {"Retry-After": "7"}))
        assert client.get(server.url + "/429").headers["Retry-After"] == "7"
        server.script("/moved", Fault.redirect("/any"))
        assert client.get(server.url + "/moved").status_code == 302
        before = server.connections
        for _ in range(3):
            assert client.get(server.url + "/any").status_code == 200
        assert server.connections - before <= 1  # keep-alive works
        with pytest.raises(httpx.ConnectError):
            client.get(closed_port_url())

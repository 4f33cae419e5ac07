"""Tests for the local stack: embedded PostgreSQL, the Temporal dev server child, and `up`'s checks.

The PostgreSQL and dev-server tests start real servers on free ports in tmp_path, so they also run
while a developer's own `aftersales up` holds the default ports and data folder. They check the
properties the rest of the suite and the outage tests rely on: data survives stop/start, stop
really refuses connections, search attributes are registered with the right types (also on a
reused database file), and nothing is left running afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from devstack.postgres import EmbeddedPostgres
from devstack.processes import (
    free_port,
    port_in_use,
    signals_deferred,
    spawn_in_own_group,
    stop_process_group,
)
from devstack.supervisor import run_up
from devstack.temporal_server import DevServer, DevServerError, cli_env, temporal_binary
from runtime.settings import Settings
from workflows.search_attributes import ALL


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port held by a listening socket for the duration of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _pids_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `text`."""
    out = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True).stdout
    pids: list[int] = []
    for line in out.splitlines():
        pid, stat, args = line.strip().split(None, 2)
        if text in args and not stat.startswith("Z") and int(pid) != os.getpid():
            pids.append(int(pid))
    return pids


# -- child processes ---------------------------------------------------------------------------


def _signal_mask(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16)
    raise AssertionError("no SigBlk line")


def test_children_hear_sigterm_and_the_whole_group_stops(tmp_path: Path) -> None:
    # The child forks a grandchild; stopping must reach both, and promptly (no SIGKILL wait),
    # which only happens if the child did not inherit a blocked SIGTERM.
    marker = f"sleep {1000 + os.getpid() % 1000}"
    with open(tmp_path / "child.log", "wb") as log, signals_deferred():
        proc = spawn_in_own_group(
            ["/bin/sh", "-c", f"{marker}1 & exec {marker}2"], stdout=log, env=dict(os.environ)
        )
    try:
        assert os.getpgid(proc.pid) == proc.pid
        assert _signal_mask(proc.pid) == 0
        assert len(_pids_mentioning(marker)) == 2
    finally:
        code = stop_process_group(proc, grace_s=5.0)
    # Ended by SIGTERM, not by the SIGKILL that follows the grace period: the child heard it.
    assert code == -signal.SIGTERM
    # The grandchild is reaped by init a moment later; wait for that, not for a fixed time.
    deadline = time.monotonic() + 10
    while _pids_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pids_mentioning(marker) == []


def test_signals_deferred_delivers_the_signal_after_the_block() -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        with signals_deferred():
            signal.raise_signal(signal.SIGTERM)
            assert received == []
        assert received == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- ports and `up` refusing to start ----------------------------------------------------------


def test_port_in_use_sees_a_listener(listening_port: int) -> None:
    assert port_in_use(listening_port)


def test_port_in_use_false_for_a_free_port() -> None:
    assert not port_in_use(free_port())


def test_port_in_use_sees_a_bound_socket_that_does_not_listen() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        assert port_in_use(sock.getsockname()[1])


def test_run_up_refuses_a_taken_temporal_port(
    listening_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    settings = Settings(
        temporal_address=f"localhost:{listening_port}", ui_port=free_port(), home=home
    )

    assert run_up(settings) == 2

    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert f"port {listening_port} is already in use (Temporal gRPC)" in err
    assert "TEMPORAL_ADDRESS" in err
    # The check runs before anything is created or started.
    assert not home.exists()


def test_run_up_refuses_a_taken_ui_port(
    listening_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        temporal_address=f"127.0.0.1:{free_port()}", ui_port=listening_port, home=tmp_path / "h"
    )

    assert run_up(settings) == 2

    err = capsys.readouterr().err
    assert f"port {listening_port} is already in use (Temporal Web UI)" in err
    assert not (tmp_path / "h").exists()


# -- embedded PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def embedded_pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(tmp_path / "pgdata")
    try:
        yield pg
    finally:
        pg.stop()


@pytest.mark.devserver
async def test_embedded_postgres_survives_stop_and_start(embedded_pg: EmbeddedPostgres) -> None:
    dsn = embedded_pg.start()
    assert dsn == embedded_pg.dsn
    assert "/aftersales?" in dsn
    # The socket lives in the data folder: no TCP port to collide with another instance.
    assert f"host={embedded_pg.data_dir}" in dsn
    assert embedded_pg.start() == dsn, "start() must be idempotent"

    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("select 1") == 1
        assert await conn.fetchval("select current_database()") == "aftersales"
        await conn.execute("create table outage_probe (id int primary key, note text)")
        await conn.execute("insert into outage_probe values (1, 'written before the stop')")
    finally:
        await conn.close()

    postmaster = embedded_pg.pid
    assert postmaster is not None
    embedded_pg.stop()

    assert not embedded_pg.is_running()
    assert _pids_mentioning(str(embedded_pg.data_dir)) == []
    with pytest.raises(OSError):
        await asyncpg.connect(dsn, timeout=5)
    embedded_pg.stop()  # a second stop is harmless

    assert embedded_pg.start() == dsn
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("select note from outage_probe where id = 1") == (
            "written before the stop"
        )
    finally:
        await conn.close()


@pytest.mark.devserver
async def test_two_embedded_postgres_instances_run_side_by_side(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "a") as a, EmbeddedPostgres(tmp_path / "b") as b:
        assert a.dsn != b.dsn
        for pg, label in ((a, "a"), (b, "b")):
            conn = await asyncpg.connect(pg.dsn)
            try:
                await conn.execute("create table whoami (label text)")
                await conn.execute("insert into whoami values ($1)", label)
            finally:
                await conn.close()
        for pg, label in ((a, "a"), (b, "b")):
            conn = await asyncpg.connect(pg.dsn)
            try:
                assert await conn.fetchval("select label from whoami") == label
            finally:
                await conn.close()
    assert _pids_mentioning(str(tmp_path)) == []


# -- Temporal dev server -----------------------------------------------------------------------


async def _assert_search_attributes(address: str) -> None:
    client = await Client.connect(address)
    resp = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    registered = dict(resp.custom_attributes)
    for key in ALL:
        assert key.name in registered, f"{key.name} is not registered"
        assert registered[key.name] == key.indexed_value_type, (
            f"{key.name} has type {registered[key.name]}, expected {key.indexed_value_type}"
        )


@pytest.mark.devserver
async def test_dev_server_registers_search_attributes_and_keeps_them(tmp_path: Path) -> None:
    db_file = tmp_path / "temporal.db"
    log_file = tmp_path / "temporal.log"
    port = free_port()
    server = DevServer(db_file=db_file, port=port, ui_port=None, log_file=log_file)
    assert "--headless" in server.command()
    try:
        server.start()
        assert server.address == f"127.0.0.1:{port}"
        assert server.ui_url is None
        await _assert_search_attributes(server.address)
    finally:
        server.stop()
    assert not server.is_running()
    assert not port_in_use(port)
    assert db_file.exists()
    assert _pids_mentioning(str(db_file)) == []

    # Same database file, new port: the namespace and its attributes come back from the file.
    restarted = DevServer(db_file=db_file, port=free_port(), ui_port=None, log_file=log_file)
    try:
        restarted.start()
        await _assert_search_attributes(restarted.address)
        assert restarted.ensure_search_attributes() == []
    finally:
        restarted.stop()
    assert _pids_mentioning(str(db_file)) == []


async def _wait_for_frontend(address: str, timeout_s: float = 60.0) -> Client:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client = await Client.connect(address)
            await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace="default")
            )
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.devserver
async def test_dev_server_adds_attributes_missing_from_an_older_database(tmp_path: Path) -> None:
    # start-dev only writes --search-attribute flags when it creates the namespace, so a database
    # file made before an attribute existed would otherwise never get it.
    db_file = tmp_path / "old.db"
    port = free_port()
    with open(tmp_path / "bare.log", "wb") as log, signals_deferred():
        bare = spawn_in_own_group(
            [
                str(temporal_binary()),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--headless",
                "--db-filename",
                str(db_file),
            ],
            stdout=log,
            env=cli_env(),
        )
    try:
        client = await _wait_for_frontend(f"127.0.0.1:{port}")
        resp = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert not set(resp.custom_attributes) & {key.name for key in ALL}
    finally:
        stop_process_group(bare)

    server = DevServer(db_file=db_file, port=free_port(), ui_port=None)
    try:
        server.start()
        await _assert_search_attributes(server.address)
    finally:
        server.stop()


@pytest.mark.devserver
def test_dev_server_failure_reports_the_log_and_leaves_nothing(listening_port: int) -> None:
    server = DevServer(db_file=None, port=listening_port, ui_port=None)
    with pytest.raises(DevServerError) as failure:
        server.start()
    message = str(failure.value)
    assert "exited with status" in message
    assert "address already in use" in message
    assert not server.is_running()
    assert _pids_mentioning(f"--port {listening_port}") == []

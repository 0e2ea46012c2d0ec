"""One stage server process: recover the stage, then serve it until told to stop.

The main thread owns bpy (Blender's importers need it) and runs the StageThread; trio runs
on a second thread. SIGINT / SIGTERM cancel the trio side, which then stops the bpy thread.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gc
import ipaddress
import logging
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import trio
import zmq

from optics import default_optics
from protocols import Command, StagecraftError
from scene import AssetStore, Stage

from ._agents import JobService
from ._journal import Journal, event_payload, journaled_command
from ._server import Endpoints, StageServer
from ._service import StageService
from ._snapshots import SnapshotStore
from ._stage_thread import StageThread

logger = logging.getLogger("stagecraft.server")

# The bpy thread and the trio thread hand every request back and forth; a short GIL switch
# interval (default 5 ms) makes those hand-offs prompt (bench/bench_server.py: ~15 % more commands/s).
GIL_SWITCH_INTERVAL = 1e-4


Companion = Callable[..., Awaitable[None]]
"""A service that runs beside the stage in its trio loop (the web stage, the agent queue …):
``async def companion(endpoints, *, task_status)`` that reports ``{name: address}`` to print."""


@dataclasses.dataclass(frozen=True, slots=True)
class ServerConfig:
    """How to run a stage: where its data lives, what to build first, where to listen."""

    data_dir: Path
    stage_file: Path | None = None
    host: str = "127.0.0.1"
    command_port: int = 5555
    event_port: int = 5556
    asset_roots: tuple[Path, ...] = ()
    snapshot_every: int = 10_000
    companions: tuple[Companion, ...] = ()
    heartbeat_timeout: float = 10.0  # seconds of agent silence before its jobs are queued again
    curve_dir: Path | None = None  # CURVE keys (`stagecraft keys generate`): authenticate every peer


def run_server(config: ServerConfig, on_ready: Callable[[Endpoints], None]) -> None:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    """Recover and serve the stage; returns after SIGINT / SIGTERM. Call on the main thread."""
    data_dir = Path(config.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_data_dir(data_dir)
    stage_name, commands, roots, optics = _stage_file(config)
    assets = AssetStore(data_dir / "assets", roots=(*config.asset_roots, *roots))
    journal = Journal(data_dir / "journal")
    snapshots = SnapshotStore(data_dir / "snapshots")
    stage = Stage(assets, default_optics().with_overrides(optics), isolate_imports=True)
    service = StageService(stage, snapshots, snapshot_every=config.snapshot_every)

    started = time.perf_counter()
    base_seq = service.restore()
    old_records = 0

    def journaled() -> Iterator[tuple[int, Command]]:
        nonlocal old_records
        for record in journal.recover(base_seq):
            seq, command, old = journaled_command(record.payload)
            old_records += old
            yield seq, command

    replayed = service.replay(journaled())
    logger.info(
        "recovered stage at seq %d (snapshot %d + %d journaled) in %.2f s",
        service.seq,
        base_seq,
        replayed,
        time.perf_counter() - started,
    )
    history_from = 0
    if old_records:  # their events carry no results: a snapshot takes their place for followers
        service.save_snapshot()
        snapshots.commit(service.seq)
        journal.rotate(snapshots.oldest_seq())
        history_from = service.seq
        logger.info("%d protocol-1 journal records upgraded: snapshot at seq %d", old_records, service.seq)
    if service.seq == 0 and commands:
        for command in commands:
            change = service.apply_local(command, session="stage-file")
            journal.append(change.seq, event_payload(change.event_parts))
        journal.commit()
        logger.info("built stage %r from %s (%d commands)", stage_name, config.stage_file, len(commands))

    # everything loaded so far (Blender's modules, the recovered stage) lives as long as the
    # server: keep it out of the garbage collector's full passes, which otherwise walk it often
    gc.freeze()
    stage_thread = StageThread()
    context = zmq.Context()
    authenticator, curve = _start_curve(context, config.curve_dir)
    server = StageServer(
        name=stage_name,
        service=service,
        stage_thread=stage_thread,
        journal=journal,
        snapshots=snapshots,
        assets=assets,
        context=context,
        services=(JobService(data_dir / "jobs.sqlite3", heartbeat_timeout=config.heartbeat_timeout),),
        curve=curve,
        history_from=history_from,
    )
    control = _TrioControl()
    trio_thread = threading.Thread(
        target=control.run,
        args=(server, config, on_ready, stage_thread),
        name="stagecraft-trio",
    )
    previous = {
        sig: signal.signal(sig, lambda *_: control.cancel()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        trio_thread.start()
        stage_thread.run_forever(idle=stage.idle)
        trio_thread.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if authenticator is not None:
            authenticator.stop()
        context.term()
    if control.error is not None:
        raise control.error
    if service.seq == journal.last_seq and service.seq > service.snapshot_seq:
        try:
            service.save_snapshot()
            snapshots.commit(service.seq)
            journal.rotate(snapshots.oldest_seq())
        except (OSError, RuntimeError, StagecraftError) as exc:
            logger.error("no snapshot at shutdown (%s); the journal holds every change", exc)
    journal.close()
    lock.close()
    logger.info("stage stopped at seq %d", service.seq)


def _lock_data_dir(data_dir: Path):
    """Hold an exclusive lock on the data directory: two servers on one journal would corrupt it."""
    lock = (data_dir / "server.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise StagecraftError(f"another stage server is already using {data_dir}") from None
    return lock


def check_listen_host(host: str, allow_remote: bool, authenticated: bool = False) -> None:
    """Refuse to listen beyond loopback without authentication (CURVE) unless explicitly allowed."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_remote and not authenticated:
        raise StagecraftError(
            f"refusing to listen on {host} without authentication: anyone who can reach it could "
            "change the stage. Make keys with `stagecraft keys generate DIR` and pass --curve-dir DIR, "
            "listen on 127.0.0.1 (the default), or pass --allow-unauthenticated-remote on a network "
            "you trust."
        )


def _start_curve(context: zmq.Context, curve_dir: Path | None):
    """A ZAP authenticator letting in only the public keys in ``curve_dir/authorized``, and the
    server's CURVE keypair; ``(None, None)`` without ``curve_dir``."""
    if curve_dir is None:
        return None, None
    import zmq.auth
    from zmq.auth.thread import ThreadAuthenticator

    curve_dir = Path(curve_dir)
    secret_file, authorized = curve_dir / "server.key_secret", curve_dir / "authorized"
    if not secret_file.is_file() or not authorized.is_dir():
        raise StagecraftError(
            f"{curve_dir} has no server.key_secret or authorized/; make keys with `stagecraft keys generate`"
        )
    public, secret = zmq.auth.load_certificate(secret_file)
    authenticator = ThreadAuthenticator(context)
    authenticator.start()
    authenticator.configure_curve(domain="*", location=str(authorized))
    return authenticator, (public, secret)


def _stage_file(config: ServerConfig) -> tuple[str, tuple, tuple[Path, ...], Mapping[str, Any]]:
    """The stage file's name, build commands, asset roots and optics table additions."""
    if config.stage_file is None:
        return "empty", (), (), {}
    from stage_scenes import load_stage

    stage = load_stage(config.stage_file)
    return stage.name, stage.commands, tuple(stage.asset_roots), stage.optics


class _TrioControl:
    """Runs the trio side on its thread and lets the main thread cancel it."""

    def __init__(self) -> None:
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._cancel_requested = False
        self.error: BaseException | None = None

    def run(self, server: StageServer, config: ServerConfig, on_ready, stage_thread: StageThread) -> None:
        try:
            trio.run(self._main, server, config, on_ready)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            self.error = exc
        finally:
            stage_thread.stop()

    async def _main(self, server: StageServer, config: ServerConfig, on_ready) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as self._scope:
            if self._cancel_requested:
                return
            async with trio.open_nursery() as nursery:
                endpoints = await nursery.start(
                    server.serve, config.host, config.command_port, config.event_port
                )
                for companion in config.companions:
                    extra = await nursery.start(companion, endpoints)
                    endpoints = dataclasses.replace(endpoints, extra={**endpoints.extra, **extra})
                on_ready(endpoints)

    def cancel(self) -> None:
        self._cancel_requested = True
        if self._token is not None and self._scope is not None:
            try:
                self._token.run_sync_soon(self._scope.cancel)
            except trio.RunFinishedError:
                pass

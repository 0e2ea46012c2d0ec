"""``stagecraft serve`` (a stage server) and ``stagecraft render-worker`` (one of its render processes)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run a stage server")
    serve.add_argument("stage", nargs="?", help="stage file (.toml); default: the bundled default stage")
    serve.add_argument("--empty", action="store_true", help="start with an empty stage, no stage file")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--allow-unauthenticated-remote",
        action="store_true",
        help="allow a --host beyond loopback although remote clients are not authenticated",
    )
    serve.add_argument("--port", type=int, default=5555, help="command port, 0 for any (default 5555)")
    serve.add_argument("--event-port", type=int, default=5556, help="event port, 0 for any (default 5556)")
    serve.add_argument("--data-dir", type=Path, default=Path("stage-data"), help="journal, snapshots, assets")
    serve.add_argument(
        "--asset-root", type=Path, action="append", default=[], help="where asset paths may point"
    )
    serve.add_argument("--snapshot-every", type=int, default=10_000, help="commands between .blend snapshots")
    serve.add_argument(
        "--curve-dir", type=Path, help="CURVE keys (stagecraft keys generate): only authorized clients get in"
    )
    serve.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=10.0,
        help="seconds before a silent agent's jobs are re-queued",
    )
    serve.add_argument(
        "--web-port", type=int, help="serve the web stage (page + WebRTC video) on this port, 0 for any"
    )
    serve.add_argument("--render-workers", type=int, default=1, help="render processes for the web stage")
    serve.add_argument(
        "--web-origin",
        action="append",
        default=[],
        help="another page origin allowed to use the web stage (e.g. https://stage.example); repeatable",
    )
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("render-worker", help="render views of a stage for the web stage")
    worker.add_argument("--connect", required=True, help="the stage's command endpoint")
    worker.add_argument("--frames", required=True, help="the web stage's frames endpoint")
    worker.add_argument("--name", required=True, help="this worker's name (its identity there)")
    worker.set_defaults(run=_render_worker)


def _serve(args: argparse.Namespace) -> int:
    from engine_server import ServerConfig, check_listen_host, run_server
    from stage_scenes import default_stage_path

    check_listen_host(args.host, args.allow_unauthenticated_remote, authenticated=args.curve_dir is not None)
    stage_file = None if args.empty else Path(args.stage) if args.stage else default_stage_path()
    config = ServerConfig(
        data_dir=args.data_dir,
        stage_file=stage_file,
        host=args.host,
        command_port=args.port,
        event_port=args.event_port,
        asset_roots=tuple(args.asset_root),
        snapshot_every=args.snapshot_every,
        heartbeat_timeout=args.heartbeat_timeout,
        curve_dir=args.curve_dir,
        companions=_web_companions(args),
    )

    def ready(endpoints) -> None:
        print(f"stagecraft: serving {stage_file or 'an empty stage'} (data in {args.data_dir})")
        print(f"  commands: {endpoints.commands}")
        print(f"  events:   {endpoints.events}")
        for name, address in endpoints.extra.items():
            print(f"  {name + ':':9} {address}")
        sys.stdout.flush()

    run_server(config, ready)
    return 0


def _render_worker(args: argparse.Namespace) -> int:
    from renderers import RenderWorker

    logging.getLogger("stagecraft").setLevel(logging.INFO)
    RenderWorker(args.name, args.connect, args.frames).run()
    return 0


def _web_companions(args: argparse.Namespace) -> tuple:
    if args.web_port is None:
        return ()
    from engine_server import web_companion

    return (web_companion(args.web_port, args.host, args.render_workers, tuple(args.web_origin)),)

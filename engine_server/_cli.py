"""``stagecraft``: serve a stage, send it commands, watch its events, print or render it."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

from protocols import (
    DEFAULT_ENDPOINT,
    Frames,
    ProtocolError,
    StageClient,
    StagecraftError,
    from_wire,
    registered_types,
    to_json,
)

from ._agents._cli import add_commands as add_agent_commands
from ._agents._cli import curve_keys


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    try:
        return args.run(args)
    except ProtocolError as exc:
        where = f" ({exc.field})" if exc.field else ""
        print(f"error: {exc.code.value}{where}: {exc.message}", file=sys.stderr)
        return 2
    except (StagecraftError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stagecraft", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the server does")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

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

    for name, helptext, run in (
        ("cmd", "send one command or query and print the reply", _cmd),
        ("watch", "print the stage's events as they happen", _watch),
        ("scene", "print the stage's node tree", _scene),
        ("render", "render one frame of the stage in this process", _render),
        ("focal-stack", "render a focus sweep of a camera to a video", _focal_stack),
    ):
        sub = commands.add_parser(name, help=helptext)
        _connect_options(sub)
        sub.set_defaults(run=run)
        if name == "cmd":
            sub.add_argument("type", help="message type, e.g. set_transform (see docs/protocol.md)")
            sub.add_argument(
                "fields", nargs="*", help="key=value (value as JSON; dotted keys nest), or one JSON map"
            )
        elif name == "watch":
            sub.add_argument("--count", type=int, default=0, help="stop after this many events")
            sub.add_argument("--after", type=int, help="start after this seq (default: from now)")
        elif name == "focal-stack":
            sub.add_argument("out", type=Path, help="video file to write (.mp4)")
            sub.add_argument("--camera", required=True, help="camera node name")
            sweep = sub.add_mutually_exclusive_group(required=True)
            sweep.add_argument("--range", nargs=2, type=float, metavar=("NEAR", "FAR"), help="metres")
            sweep.add_argument("--targets", nargs=2, metavar=("FROM", "TO"), help="sweep between two nodes")
            sub.add_argument("--frames", type=int, default=24)
            sub.add_argument("--method", choices=("post", "cycles"), default="post")
            sub.add_argument("--engine", choices=("workbench", "eevee", "cycles"), default="cycles")
            sub.add_argument("--resolution", default="preview", help="preview, hd, fhd or WIDTHxHEIGHT")
            sub.add_argument("--samples", type=int, default=16)
        elif name == "render":
            sub.add_argument("out", type=Path, help="PNG file to write")
            sub.add_argument("--camera", help="camera node name (default: the active camera)")
            sub.add_argument("--engine", choices=("workbench", "eevee", "cycles"), default="cycles")
            sub.add_argument("--resolution", default="preview", help="preview, hd, fhd or WIDTHxHEIGHT")
            sub.add_argument("--samples", type=int, default=16)
    add_agent_commands(commands, _connect_options)
    return parser


def _connect_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--connect", default=DEFAULT_ENDPOINT, help=f"command endpoint (default {DEFAULT_ENDPOINT})"
    )
    sub.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    sub.add_argument("--curve-dir", type=Path, help="CURVE keys of a stage that requires them")
    sub.add_argument("--curve-client", default="client", help="which client keypair in --curve-dir")


def _serve(args: argparse.Namespace) -> int:
    from stage_scenes import default_stage_path

    from ._process import ServerConfig, check_listen_host, run_server

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
    from renderers._worker import RenderWorker

    logging.getLogger("stagecraft").setLevel(logging.INFO)
    RenderWorker(args.name, args.connect, args.frames).run()
    return 0


def _web_companions(args: argparse.Namespace) -> tuple:
    if args.web_port is None:
        return ()
    from ._web import web_companion

    return (web_companion(args.web_port, args.host, args.render_workers, tuple(args.web_origin)),)


def _cmd(args: argparse.Namespace) -> int:
    types = registered_types()
    if args.type not in types:
        print(
            f"error: unknown message type {args.type!r}; one of: {', '.join(sorted(types))}", file=sys.stderr
        )
        return 2
    body = from_wire(types[args.type], _fields(args.fields), Frames(lists_as_arrays=True))
    with StageClient(args.connect, timeout=args.timeout, curve=curve_keys(args)) as client:
        reply = client.request(body)
    print(_pretty_json(to_json(reply)))
    return 0


def _pretty_json(value: Any) -> str:
    """Indented JSON with short lists (vectors, colours, uuid lists) kept on one line."""
    text = json.dumps(value, indent=2)
    return re.sub(
        r"\[[^\[\]{}]*?\]",
        lambda m: re.sub(r"\s*\n\s*", " ", m.group(0)).replace("[ ", "[").replace(" ]", "]"),
        text,
    )


def _fields(items: list[str]) -> dict[str, Any]:
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        return json.loads(items[0])
    body: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise StagecraftError(f"argument {item!r} is not key=value")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        target = body
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return body


def _watch(args: argparse.Namespace) -> int:
    with StageClient(args.connect, timeout=args.timeout, curve=curve_keys(args)) as client:
        stream = client.subscribe()
        stream.start_after(client.hello().seq if args.after is None else args.after)
        seen = 0
        for event in stream:
            command = to_json(event.command)
            print(
                json.dumps(
                    {"seq": event.seq, "type": event.command.TYPE, "session": event.session, **command}
                )
            )
            sys.stdout.flush()
            seen += 1
            if args.count and seen >= args.count:
                return 0
    return 0


def _scene(args: argparse.Namespace) -> int:
    with StageClient(args.connect, timeout=args.timeout, curve=curve_keys(args)) as client:
        tree = client.tree()
    children: dict[str | None, list] = {}
    for node in tree.nodes:
        children.setdefault(node.parent, []).append(node)

    def show(parent: str | None, depth: int) -> None:
        for node in children.get(parent, []):
            bone = f" @ bone {node.parent_bone}" if node.parent_bone else ""
            print(f"{'  ' * depth}{node.name}  [{node.kind}{bone}]  {node.uuid}")
            show(node.uuid, depth + 1)

    print(f"stage at seq {tree.seq}, {len(tree.nodes)} nodes")
    show(None, 0)
    return 0


def _render(args: argparse.Namespace) -> int:
    from ._render_client import render_stage

    with StageClient(args.connect, timeout=args.timeout, curve=curve_keys(args)) as client:
        path = render_stage(client, args.out, args.camera, args.engine, args.resolution, args.samples)
    print(f"wrote {path}")
    return 0


def _focal_stack(args: argparse.Namespace) -> int:
    from ._render_client import focal_stack

    with StageClient(args.connect, timeout=args.timeout, curve=curve_keys(args)) as client:
        path = focal_stack(
            client,
            args.out,
            args.camera,
            tuple(args.range) if args.range else None,
            tuple(args.targets) if args.targets else None,
            args.frames,
            args.method,
            (args.engine, args.resolution, args.samples),
        )
    print(f"wrote {path}")
    return 0

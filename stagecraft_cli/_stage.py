"""``stagecraft cmd`` (one command or query), ``watch`` (the events) and ``scene`` (the node tree)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from protocols import Frames, StagecraftError, from_wire, registered_types, to_json

from ._connect import connect_options, stage_client


def add_commands(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("cmd", help="send one command or query and print the reply")
    cmd.add_argument("type", help="message type, e.g. set_transform (see docs/protocol.md)")
    cmd.add_argument("fields", nargs="*", help="key=value (value as JSON; dotted keys nest), or one JSON map")
    watch = commands.add_parser("watch", help="print the stage's events as they happen")
    watch.add_argument("--count", type=int, default=0, help="stop after this many events")
    watch.add_argument("--after", type=int, help="start after this seq (default: from now)")
    scene = commands.add_parser("scene", help="print the stage's node tree")
    for sub, run in ((cmd, _cmd), (watch, _watch), (scene, _scene)):
        connect_options(sub)
        sub.set_defaults(run=run)


def _cmd(args: argparse.Namespace) -> int:
    types = registered_types()
    if args.type not in types:
        print(
            f"error: unknown message type {args.type!r}; one of: {', '.join(sorted(types))}", file=sys.stderr
        )
        return 2
    body = from_wire(types[args.type], fields(args.fields), Frames(lists_as_arrays=True))
    with stage_client(args) as client:
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


def fields(items: list[str]) -> dict[str, Any]:
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
    with stage_client(args) as client:
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
    with stage_client(args) as client:
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

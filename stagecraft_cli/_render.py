"""``stagecraft render`` (one frame) and ``stagecraft focal-stack`` (a focus sweep to video), both
rendered in this process from a replica of the stage, never on the stage's thread."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._connect import connect_options, stage_client


def add_commands(commands: argparse._SubParsersAction) -> None:
    render = commands.add_parser("render", help="render one frame of the stage in this process")
    render.add_argument("out", type=Path, help="PNG file to write")
    render.add_argument("--camera", help="camera node name (default: the active camera)")
    stack = commands.add_parser("focal-stack", help="render a focus sweep of a camera to a video")
    stack.add_argument("out", type=Path, help="video file to write (.mp4)")
    stack.add_argument("--camera", required=True, help="camera node name")
    sweep = stack.add_mutually_exclusive_group(required=True)
    sweep.add_argument("--range", nargs=2, type=float, metavar=("NEAR", "FAR"), help="metres")
    sweep.add_argument("--targets", nargs=2, metavar=("FROM", "TO"), help="sweep between two nodes")
    stack.add_argument("--frames", type=int, default=24)
    stack.add_argument("--method", choices=("post", "cycles"), default="post")
    for sub, run in ((render, _render), (stack, _focal_stack)):
        sub.add_argument("--engine", choices=("workbench", "eevee", "cycles"), default="cycles")
        sub.add_argument("--resolution", default="preview", help="preview, hd, fhd or WIDTHxHEIGHT")
        sub.add_argument("--samples", type=int, default=16)
        connect_options(sub)
        sub.set_defaults(run=run)


def _render(args: argparse.Namespace) -> int:
    from renderers import render_stage

    with stage_client(args) as client:
        path = render_stage(client, args.out, args.camera, args.engine, args.resolution, args.samples)
    print(f"wrote {path}")
    return 0


def _focal_stack(args: argparse.Namespace) -> int:
    from renderers import render_stage_focal_stack

    with stage_client(args) as client:
        path = render_stage_focal_stack(
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

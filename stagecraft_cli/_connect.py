"""What every command that talks to a stage takes: where it is, how long to wait, CURVE keys."""

from __future__ import annotations

import argparse
from pathlib import Path

from protocols import DEFAULT_ENDPOINT, CurveKeys, StageClient


def connect_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--connect", default=DEFAULT_ENDPOINT, help=f"command endpoint (default {DEFAULT_ENDPOINT})"
    )
    sub.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    sub.add_argument("--curve-dir", type=Path, help="CURVE keys of a stage that requires them")
    sub.add_argument("--curve-client", default="client", help="which client keypair in --curve-dir")


def curve_keys(args: argparse.Namespace) -> CurveKeys | None:
    return None if args.curve_dir is None else CurveKeys.from_dir(args.curve_dir, args.curve_client)


def stage_client(args: argparse.Namespace) -> StageClient:
    return StageClient(args.connect, timeout=args.timeout, curve=curve_keys(args))

"""``stagecraft keys generate``: CURVE keypairs for a stage beyond loopback."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="CURVE keys for a stage beyond loopback")
    key_actions = keys.add_subparsers(required=True, metavar="ACTION")
    generate = key_actions.add_parser("generate", help="write a server keypair and client keypairs")
    generate.add_argument("dir", type=Path)
    generate.add_argument("--client", action="append", help="client key names (default: client)")
    generate.set_defaults(run=_generate_keys)


def _generate_keys(args: argparse.Namespace) -> int:
    import zmq.auth

    directory: Path = args.dir
    authorized = directory / "authorized"
    authorized.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    zmq.auth.create_certificates(directory, "server")
    for name in args.client or ["client"]:
        public, _ = zmq.auth.create_certificates(directory, name)
        shutil.copy(public, authorized / Path(public).name)
    print(f"wrote CURVE keys to {directory}: server.key(_secret), clients authorized in {authorized}")
    return 0

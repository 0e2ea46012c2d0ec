"""Drive the Stagecraft extension inside a real ``bpy`` in another process, over JSON lines.

Run as a script, this module is the Blender side: it reads one command per line on stdin
(``{"op": "tick_until", "cond": {...}, "timeout": 10}``) and answers one JSON line on stdout.
Imported, it gives ``Driver``, which starts that process and sends it commands.
No sleeps: waiting means ticking the add-on (which blocks briefly on its event socket) until a
condition holds or a deadline passes.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MODULE = "bl_ext.user_default.stagecraft"
# what a Blender's own Python holds besides the standard library (pip's bpy needs the same)
BLENDER_BUNDLES = ("bpy", "numpy", "numpy.libs", "requests", "urllib3", "idna", "certifi",
                   "charset_normalizer", "zstandard", "Cython", "cython.py")  # fmt: skip


def stock_blender_path(directory: Path) -> Path:
    """A module path holding only what a stock Blender bundles (links into this Python's bpy)."""
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    assert spec is not None and spec.origin is not None
    site = Path(spec.origin).parent.parent
    directory.mkdir(parents=True, exist_ok=True)
    for name in BLENDER_BUNDLES:
        if (site / name).exists():
            (directory / name).symlink_to(site / name)
    return directory


class DriverError(Exception):
    """The Blender side reported a failure."""


class Driver:
    """One Blender process with the extension; ``call(op, **args)`` returns its answer."""

    def __init__(self, user_dir: Path, stock: Path | None = None) -> None:
        """``stock``: run in a Python that sees only the standard library and ``stock`` (from
        ``stock_blender_path``): nothing of the project's environment, as in a Blender download."""
        env = {**os.environ, "BLENDER_USER_RESOURCES": str(user_dir), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, __file__]
        if stock is not None:
            env["PYTHONPATH"] = str(stock)
            command = [sys.executable, "-S", __file__]  # no site-packages: no project, no venv
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def call(self, op: str, **args) -> dict:
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise DriverError(f"the Blender driver exited (status {self.process.wait()}) during {op}")
        answer = json.loads(line)
        if not answer.pop("ok"):
            raise DriverError(f"{op}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


# -- the Blender side -------------------------------------------------------------------------


def _addon():
    return sys.modules[MODULE]


def _sync():
    return _addon()._session.SESSION.sync


def _obj(name: str):
    import bpy

    obj = bpy.data.objects.get(name)
    if obj is None:
        raise KeyError(f"no object {name!r}")
    return obj


def _close(a, b, tol: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def _state(name: str) -> dict:
    import bpy

    obj = bpy.data.objects.get(name)
    if obj is None:
        return {"exists": False}
    bpy.context.view_layer.update()
    return {
        "exists": True,
        "location": list(obj.location),
        "world": list(obj.matrix_world.translation),
        "parent": obj.parent.name if obj.parent else None,
        "bone": obj.parent_bone or None,
        "uuid": obj.get("stagecraft_uuid"),
    }


def _status() -> dict:
    sync = _sync()
    if sync is None:
        return {"state": "none"}
    s = sync.status
    return {
        "state": s.state,
        "applied_seq": s.applied_seq,
        "server_seq": s.server_seq,
        "lag": s.lag,
        "last_error": s.last_error,
        "conflict": s.conflict,
        "sent": s.sent,
        "peers": [[p.name, list(p.selection)] for p in s.peers],
    }


def _holds(cond: dict) -> bool:
    if "state" in cond and _status()["state"] != cond["state"]:
        return False
    if "applied_seq" in cond and _status().get("applied_seq", -1) < cond["applied_seq"]:
        return False
    if "last_error_contains" in cond and cond["last_error_contains"] not in _status().get("last_error", ""):
        return False
    if "conflict_contains" in cond and cond["conflict_contains"] not in _status().get("conflict", ""):
        return False
    if "peer" in cond and cond["peer"] not in _status().get("peers", []):  # [name, [selected names]]
        return False
    if "name" in cond:
        state = _state(cond["name"])
        if not state["exists"]:
            return False
        for key in ("location", "world"):
            if key in cond and not _close(state[key], cond[key], cond.get("tol", 1e-4)):
                return False
        if "bone" in cond and state["bone"] != cond["bone"]:
            return False
    return True


def _tick_until(cond: dict, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while not _holds(cond):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{cond} did not hold within {timeout} s; status {_status()}")
        _sync().tick(wait=0.002)
    return {"status": _status()}


def _leftovers() -> dict:
    import bpy

    classes = [
        name
        for name in dir(bpy.types)
        if name.startswith(("STAGECRAFT_", "VIEW3D_PT_stagecraft", "Stagecraft"))
    ]
    handlers = [
        f"{kind}:{fn.__module__}"
        for kind in dir(bpy.app.handlers)
        if not kind.startswith("_") and isinstance(getattr(bpy.app.handlers, kind), list)
        for fn in getattr(bpy.app.handlers, kind)
        if MODULE in getattr(fn, "__module__", "")
    ]
    return {
        "classes": classes,
        "handlers": handlers,
        "operators": [op for op in dir(bpy.ops.stagecraft) if not op.startswith("_")],
        "addon_enabled": MODULE in bpy.context.preferences.addons,
    }


def _handle(op: str, args: dict) -> dict:
    import bpy

    if op == "install":
        result = bpy.ops.extensions.package_install_files(
            repo="user_default", filepath=args["zip"], enable_on_install=True
        )
        module = _addon()
        enabled = MODULE in bpy.context.preferences.addons
        return {
            "result": sorted(result),
            "module": module.__name__,
            "file": module.__file__,
            "enabled": enabled,
        }
    if op == "environment":  # which of these this Python can import (before the add-on's wheels)
        import importlib.util

        names = ("numpy", "zmq", "msgpack", "trio", "av", "protocols", "scene")
        return {"modules": [name for name in names if importlib.util.find_spec(name) is not None]}
    if op == "connect":
        prefs = bpy.context.preferences.addons[MODULE].preferences
        prefs.endpoint = args["endpoint"]
        prefs.key_dir = args.get("key_dir", "")
        prefs.artist_name = args.get("artist", "")
        bpy.ops.stagecraft.connect()
        return _tick_until({"state": "connected"}, args.get("timeout", 20.0))
    if op == "ping":  # one presence round trip now (the add-on says hello every second it ticks)
        sync = _sync()
        sync._last_ping = 0.0
        sync.tick()
        deadline = time.monotonic() + args.get("timeout", 20.0)
        while sync._ping_id is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the hello was never answered; status {_status()}")
            sync.tick(wait=0.002)
        return {"status": _status()}
    if op == "select":  # the artist selects these objects (and nothing else)
        for obj in bpy.data.objects:
            obj.select_set(obj.name in args["names"])
        return {}
    if op == "overlay":  # what the viewport overlay would label: [object, artist]
        import importlib

        overlay = importlib.import_module(f"{MODULE}._overlay")
        return {"labels": sorted([obj.name, name] for obj, name, _ in overlay.labels())}
    if op == "disconnect":
        bpy.ops.stagecraft.disconnect()
        return {"status": _status()}
    if op == "tick_until":
        return _tick_until(args["cond"], args.get("timeout", 20.0))
    if op == "tick":
        for _ in range(args.get("n", 1)):
            _sync().tick()
        return {"status": _status()}
    if op == "move":
        _obj(args["name"]).location = args["location"]
        if args.get("tick"):
            _sync().tick()
        return {}
    if op == "stream":  # rounds × names local moves, one tick per round
        objects = [_obj(name) for name in args["names"]]
        start = time.perf_counter()
        for r in range(args["rounds"]):
            for k, obj in enumerate(objects):
                obj.location = (float(r), float(k), 0.0)
            _sync().tick()
        return {"seconds": time.perf_counter() - start}
    if op == "wait_locations":
        deadline = time.monotonic() + args.get("timeout", 60.0)
        wanted = [(_obj(name), location) for name, location in args["locations"].items()]
        while not all(_close(obj.location, location, 1e-4) for obj, location in wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(f"locations not reached; status {_status()}")
            _sync().tick(wait=0.002)
        return {"status": _status()}
    if op == "set":  # a property by dotted path, e.g. {"name": "CamA", "path": "data.lens", "value": 85}
        *parents, leaf = args["path"].split(".")
        target = functools.reduce(getattr, parents, _obj(args["name"]))
        setattr(target, leaf, args["value"])
        return {}
    if op == "get":
        return {"value": functools.reduce(getattr, args["path"].split("."), _obj(args["name"]))}
    if op == "state":
        return _state(args["name"])
    if op == "status":
        return {"status": _status()}
    if op == "objects":
        return {
            "stage": sorted(o.name for o in bpy.data.objects if "stagecraft_uuid" in o),
            "all": sorted(o.name for o in bpy.data.objects),
        }
    if op == "add_local":
        obj = bpy.data.objects.new(args["name"], None)
        bpy.context.scene.collection.objects.link(obj)
        return {}
    if op == "attach":
        for obj in bpy.context.view_layer.objects:
            obj.select_set(obj.name in (args["prop"], args["character"]))
        bpy.context.view_layer.objects.active = _obj(args["character"])
        return {"result": sorted(bpy.ops.stagecraft.attach_to_bone(bone=args["bone"], keep_world=False))}
    if op == "frame":  # the artist scrubs the timeline to this frame
        bpy.context.scene.frame_set(args["frame"])
        _sync().tick()
        return {"status": _status()}
    if op == "duplicate":  # Shift-D (or Alt-D with linked=True) on one object
        original = _obj(args["name"])
        bpy.ops.object.select_all(action="DESELECT")
        original.select_set(True)
        bpy.context.view_layer.objects.active = original
        bpy.ops.object.duplicate(linked=args.get("linked", False))
        copy = bpy.context.view_layer.objects.active
        copy.name = args["as"]
        return {"name": copy.name}
    if op == "undo_push":  # what Blender does after each operator an artist runs
        bpy.ops.ed.undo_push(message=args.get("message", "step"))
        return {}
    if op == "undo":
        bpy.ops.ed.undo()
        return {}
    if op == "feed":
        _sync().feed([bytes.fromhex(f) for f in args["frames"]])
        return {"status": _status()}
    if op == "uninstall":
        tick = _addon()._session.tick
        bpy.ops.preferences.addon_disable(module=MODULE)
        return {**_leftovers(), "timer": bpy.app.timers.is_registered(tick)}
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")  # Blender prints to fd 1: keep the answers apart
    os.dup2(2, 1)
    import bpy  # noqa: F401 - import Blender before the first command

    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": True, **_handle(request.pop("op"), request)}
        except Exception as exc:  # every failure goes back to the test as an answer
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()

"""Every command and field with hostile values: the stage answers, refuses cleanly, and replays.

The cases are built from the commands' own type hints, so a new command or field is fuzzed
without a change here. After every case: the server answered; a refused command changed
nothing; ``get_snapshot`` works. At the end the server is killed (SIGKILL) and restarted on
its data: the recovered stage must equal the stage before the kill, i.e. replay (snapshot +
journal) reproduces every acknowledged case exactly.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Literal, Union

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocols as p
from protocols._codec import _is_tagged, registered_types

pytestmark = pytest.mark.slow

COMMANDS = sorted(name for name, cls in registered_types().items() if _is_tagged(cls))
NODE_NAMES = ["Crate", "Cam", "Lamp", "Rig", "Fuzzed", "Nope"]
EXTREME_FLOATS = [
    0.0, -0.0, 1.0, 0.5, -1.0, 2.8, 50.0, 1e-3, 1e-9, 1e-40, 1e-46, 5e-324, 1.4e-45,
    1.8e19, 1e20, 3.4e38, 3.5e38, 1e200, 1e308, -1e308, float("inf"), float("nan"),
]  # fmt: skip
EXTREME_INTS = [0, 1, -1, 3, 24, 255, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63), 2**64 - 1]
HOSTILE_TEXT = ["", " ", "a" * 64, "x" * 300, "Cr\u202eate", "Cr\u200bate", "Cr\x7fate", "Cr\x85ate",
                "../../etc/passwd", "/etc/shadow", "é", "Bone"]  # fmt: skip

floats = st.one_of(
    st.sampled_from(EXTREME_FLOATS),
    st.floats(-10, 10),
    st.floats(0.01, 100),
    st.floats(width=32),
    st.floats(),
)
ints = st.one_of(st.sampled_from(EXTREME_INTS), st.integers(0, 64), st.integers(-(2**20), 2**20))
texts = st.one_of(
    st.sampled_from(NODE_NAMES),
    st.sampled_from(NODE_NAMES),
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=20),
)
anything = st.one_of(
    st.none(), st.booleans(), floats, ints, texts, st.binary(max_size=8), st.just([]), st.just({})
)


@dataclasses.dataclass
class Wire:
    """A request under construction: its body and raw frames."""

    frames: list[bytes] = dataclasses.field(default_factory=list)


def value_for(hint: Any, wire: Wire, depth: int = 0) -> st.SearchStrategy:
    """Values for a field of type ``hint``: mostly well-typed with extreme contents, sometimes not."""
    typed = _typed(hint, wire, depth)
    return st.one_of(typed, typed, typed, typed, anything) if depth else typed


def _typed(hint: Any, wire: Wire, depth: int) -> st.SearchStrategy:
    origin = typing.get_origin(hint)
    if set(typing.get_args(hint)) == set(p.COMMAND_TYPES):  # a batch's commands: of any type
        return _command_body(wire, depth + 1)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return st.one_of(st.none(), *(value_for(o, wire, depth + 1) for o in options))
    if hint is float:
        return floats
    if hint is int:
        return ints
    if hint is bool:
        return st.booleans()
    if hint is str:
        return texts
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from([m.value for m in hint] + ["bogus"])
    if origin is Literal:
        return st.sampled_from([*typing.get_args(hint), "bogus"])
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(value_for(args[0], wire, depth + 1), max_size=4)
        length = st.sampled_from([len(args), len(args), len(args), len(args) - 1, len(args) + 1])
        return length.flatmap(lambda n: st.lists(value_for(args[0], wire, depth + 1), min_size=n, max_size=n))
    if origin is dict:
        return st.dictionaries(st.one_of(st.text(max_size=6), st.binary(max_size=4)), anything, max_size=3)
    if hint is np.ndarray:
        return _array(wire)
    if hint is bytes:
        return st.binary(max_size=32).map(lambda data: _frame(wire, data))
    if dataclasses.is_dataclass(hint):
        return _fields(hint, wire, depth + 1)
    return anything


@st.composite
def _array(draw, wire: Wire) -> dict:
    dtype = draw(st.sampled_from(["<f4", "<f8", "<i4", "|u1", ">f4", "|O8", [], {}, 7]))
    shape = draw(st.sampled_from([[1, 4], [2, 4], [1, 3], [3], [0], [2**32, 2**32], [-1, 4], "x"]))
    size = 0
    if isinstance(dtype, str) and dtype[1:] in ("f4", "f8", "i4", "u1") and isinstance(shape, list):
        count = int(np.prod(shape)) if all(isinstance(n, int) and 0 <= n < 1000 for n in shape) else 0
        size = count * int(dtype[-1])
    with np.errstate(all="ignore"):  # extreme values overflow float32 on purpose
        filled = np.full(size // 4, draw(floats), "<f4").tobytes()
    data = draw(st.sampled_from([b"", bytes(size), filled]))
    return {"$frame": _frame(wire, data)["$frame"], "dtype": dtype, "shape": shape}


def _frame(wire: Wire, data: bytes) -> dict:
    wire.frames.append(data)
    return {"$frame": len(wire.frames) - 1}


@st.composite
def _fields(draw, cls: type, wire: Wire, depth: int) -> dict:
    hints = typing.get_type_hints(cls)
    body: dict[Any, Any] = {}
    for field in dataclasses.fields(cls):
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if required or draw(st.integers(0, 3)) == 0:
            body[field.name] = draw(value_for(hints[field.name], wire, depth))
    if draw(st.integers(0, 40)) == 0:  # an unknown key, text or bytes
        body[draw(st.sampled_from(["bogus", b"bogus"]))] = 1
    return body


@st.composite
def _command_body(draw, wire: Wire, depth: int = 0) -> dict:
    name = draw(st.sampled_from([c for c in COMMANDS if c != "batch" or depth == 0]))
    cls = registered_types()[name]
    return {"type": name, **draw(_fields(cls, wire, depth))}


@st.composite
def requests(draw) -> list[bytes]:
    wire = Wire()
    body = draw(_command_body(wire))
    name = body.pop("type")
    session = draw(st.sampled_from(["fuzz"] * 12 + ["s" * 200, "fu\nzz", ""]))
    header = {"v": p.PROTOCOL_VERSION, "id": "fuzz-case", "type": name, "session": session, "body": body}
    return [msgpack.packb(header, use_bin_type=True), *wire.frames]


def _build(client) -> None:
    bones = (p.BoneSpec(name="root", head=(0, 0, 0), tail=(0, 0, 1)),
             p.BoneSpec(name="Bone", head=(0, 0, 1), tail=(0, 0, 2), parent="root"))  # fmt: skip
    client.apply(p.CreateNode(kind="mesh", name="Crate", mesh=p.MeshSpec(primitive="cube")))
    client.apply(p.CreateNode(kind="camera", name="Cam", camera=p.CameraParams()))
    client.apply(p.CreateNode(kind="light", name="Lamp", light=p.LightParams()))
    client.apply(p.CreateNode(kind="armature", name="Rig", armature=p.ArmatureSpec(bones=bones)))


def test_every_command_fuzzed_then_a_kill_and_restart_replays_all_that_was_acknowledged(stage_factory):
    stage = stage_factory("--empty", "--snapshot-every", "40")
    acknowledged = []
    with stage.client(timeout=60) as client:
        _build(client)

        @settings(
            max_examples=600,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same cases every run: a failure is a finding, never a fluke
        )
        @given(request=requests())
        def case(request: list[bytes]) -> None:
            before = client.snapshot()
            client.send_raw(request)
            reply = client.receive_raw()
            after = client.snapshot()  # get_snapshot works after every case
            if reply.type == "applied":
                acknowledged.append(reply.body.seq)
                assert after.seq == before.seq + 1
            else:
                assert reply.type == "error" and reply.body.code != p.ErrorCode.INTERNAL, reply.body
                assert after == before, f"a refused command changed the stage: {reply.body.message}"

        case()
        final = client.snapshot()
    assert acknowledged, "no fuzz case was a valid command: the generator lost its aim"
    stage.kill()
    restarted = stage_factory("--empty", data_dir=stage.data_dir)
    with restarted.client(timeout=60) as client:
        recovered = client.snapshot()
    assert recovered.seq == final.seq
    assert recovered == final

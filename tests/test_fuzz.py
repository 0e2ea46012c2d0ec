"""Property-based: malformed and adversarial messages never hurt the stage."""

from __future__ import annotations

import msgpack
import pytest
from harness import StageProcess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import PROTOCOL_VERSION, CreateNode, MeshSpec, encode, registered_types
from protocols._envelope import Envelope

TYPES = sorted(registered_types())
FIELD_NAMES = ["node", "name", "kind", "location", "rotation", "scale", "camera", "material", "commands",
               "bones", "rotations", "uuid", "parent", "asset", "path", "sha256", "data", "type", "$frame",
               "dtype", "shape", "lens", "fstop", "after", "limit"]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80),
    st.binary(max_size=64),
    st.sampled_from([*TYPES, "../../etc/passwd", "/etc/shadow", "Crate", "|O8", "<f4"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), children, max_size=6),
    ),
    max_leaves=30,
)
headers = st.fixed_dictionaries(
    {
        "v": st.sampled_from([PROTOCOL_VERSION] * 3 + [0, 1, PROTOCOL_VERSION + 1, str(PROTOCOL_VERSION)]),
        "id": st.text(max_size=40),
        "type": st.sampled_from(TYPES),
    },
    optional={"body": values, "session": values, "parent": values},
)
VALID_BODIES = {
    "set_transform": {"node": "Crate", "location": [0.0, 1.0, 2.0], "rotation": [1.0, 0.0, 0.0, 0.0]},
    "create_node": {"kind": "mesh", "name": "Fuzzed", "mesh": {"primitive": "cube", "size": 1.0}},
    "set_material": {"node": "Crate", "material": {"roughness": 0.5, "base_color": [1.0, 0.0, 0.0, 1.0]}},
    "set_camera": {"node": "Crate", "camera": {"lens": 50.0}},
    "set_parent": {"node": "Crate", "parent": None},
    "rename_node": {"node": "Crate", "name": "Crate"},
    "batch": {"commands": [{"type": "set_transform", "node": "Crate", "scale": [1.0, 1.0, 1.0]}]},
}


@st.composite
def mutated(draw) -> list[bytes]:
    """A valid request with one field (or one nested field) replaced by something hostile."""
    kind = draw(st.sampled_from(sorted(VALID_BODIES)))
    body = {k: v for k, v in VALID_BODIES[kind].items()}
    key = draw(st.sampled_from(sorted(body)))
    if isinstance(body[key], dict) and draw(st.booleans()):
        inner = dict(body[key])
        inner[draw(st.sampled_from(sorted(inner)))] = draw(values)
        body[key] = inner
    else:
        body[key] = draw(values)
    header = {"v": PROTOCOL_VERSION, "id": draw(st.text(max_size=12)), "type": kind, "body": body}
    return [msgpack.packb(header, use_bin_type=True)]


messages = st.one_of(
    mutated(),
    st.lists(st.binary(max_size=200), min_size=1, max_size=4),
    st.tuples(headers, st.lists(st.binary(max_size=64), max_size=3)).map(
        lambda pair: [msgpack.packb(pair[0], use_bin_type=True), *pair[1]]
    ),
    st.tuples(values).map(lambda v: [msgpack.packb(v[0], use_bin_type=True)]),
)


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    process = StageProcess(tmp_path_factory.mktemp("fuzz") / "stage", "--empty").start()
    with process.client() as client:
        client.apply(CreateNode(kind="mesh", name="Crate", mesh=MeshSpec(primitive="cube")))
    yield process
    process.kill()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=messages)
def test_garbage_gets_an_answer_and_changes_nothing_acknowledged(stage, message) -> None:
    with stage.client(timeout=30) as client:
        before = client.snapshot()
        client.send_raw(message)
        reply = client.receive_raw()
        after = client.snapshot()
        if reply.type == "applied":  # the fuzzer built a valid command: it must be journaled
            assert after.seq == before.seq + 1
            assert client.events(after=before.seq).events[0].seq == after.seq
        else:
            assert after == before
        assert client.hello().seq == after.seq


def test_a_valid_command_still_works_after_the_storm(stage) -> None:
    with stage.client() as client:
        parts = encode(Envelope(body=CreateNode(kind="empty", name="AfterFuzz")))
        client.send_raw(parts)
        assert client.receive_raw().type == "applied"
        assert client.node("AfterFuzz").kind == "empty"

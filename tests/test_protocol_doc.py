"""docs/protocol.md agrees with the code: version, one section per message type, every field."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import msgpack
import numpy as np

import protocols

DOC = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
TYPE_HEADING = re.compile(r"^### `([a-z_]+)`\s*$", re.MULTILINE)


def _sections() -> dict[str, str]:
    """Message type -> the text under its heading, up to the next heading of level 1–3."""
    sections = {}
    for match in TYPE_HEADING.finditer(DOC):
        end = re.compile(r"^#{1,3} ", re.MULTILINE).search(DOC, match.end())
        sections[match.group(1)] = DOC[match.end() : end.start() if end else len(DOC)]
    return sections


def test_documented_version_is_the_protocol_version():
    versions = re.findall(r"^Protocol version: \*\*(\d+)\*\*$", DOC, re.MULTILINE)
    assert versions == [str(protocols.PROTOCOL_VERSION)]


def test_every_message_type_has_exactly_one_section():
    headings = TYPE_HEADING.findall(DOC)
    assert len(headings) == len(set(headings)), "a message type is documented twice"
    assert set(headings) == set(protocols.registered_types())


def test_every_field_appears_in_its_section():
    sections = _sections()
    missing = [
        f"{type_name}.{field.name}"
        for type_name, cls in protocols.registered_types().items()
        for field in dataclasses.fields(cls)
        if f"`{field.name}`" not in sections[type_name]
    ]
    assert missing == []


def test_size_limits_in_the_doc_match_the_code():
    for name in ("MAX_HEADER_BYTES", "MAX_MESSAGE_BYTES", "MAX_FRAMES", "MAX_BATCH"):
        row = re.search(rf"^\| `{name}` \| ([\d ]+)", DOC, re.MULTILINE)
        assert row is not None, name
        assert int(row.group(1).replace(" ", "")) == getattr(protocols, name)


def test_every_error_code_is_documented():
    table = DOC[DOC.index("## Errors") : DOC.index("## Sequence numbers")]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))
    assert documented == {code.value for code in protocols.ErrorCode}


# -- the document's examples, sent as written --------------------------------------------------

JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)
REPLY_OF = re.compile(r"the reply is\s+\[`([a-z_]+)`\]")
SECTION_OF = {
    name: DOC[: DOC.index(f"### `{name}`")].rpartition("\n## ")[2].split("\n", 1)[0]
    for name in TYPE_HEADING.findall(DOC)
}
# the stage the examples are written against (their names and UUIDs)
HERO_BONES = (
    protocols.BoneSpec(name="spine", head=(0, 0, 0.9), tail=(0, 0, 1.3)),
    protocols.BoneSpec(name="neck", head=(0, 0, 1.3), tail=(0, 0, 1.6), parent="spine"),
    protocols.BoneSpec(name="hand.R", head=(0.3, 0, 1.3), tail=(0.5, 0, 1.3), parent="spine"),
)
LOOKING_ALONG_Y = protocols.Transform(location=(0, -6, 1.6), rotation=(0.7071, 0.7071, 0, 0))
FIXTURE = (
    protocols.CreateNode(kind="empty", name="Set", uuid="a1b2c3d4e5f60718293a4b5c6d7e8f90"),
    protocols.CreateNode(
        kind="mesh",
        name="Crate",
        uuid="0b6c7d2f5e1a4c3b9d8e7f6a5b4c3d2e",
        mesh=protocols.MeshSpec(primitive="cube"),
    ),
    protocols.CreateNode(kind="armature", name="Hero", armature=protocols.ArmatureSpec(bones=HERO_BONES)),
    protocols.CreateNode(kind="mesh", name="Sword", mesh=protocols.MeshSpec(primitive="cone", size=0.3)),
    protocols.CreateNode(
        kind="mesh",
        name="Shaker",
        mesh=protocols.MeshSpec(primitive="cylinder", size=0.2),
        transform=protocols.Transform(location=(0.5, 2, 1.0)),  # behind Hero, seen from CamB
    ),
    protocols.CreateNode(
        kind="camera",
        name="CamA",
        uuid="5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
        camera=protocols.CameraParams(),
        transform=LOOKING_ALONG_Y,
    ),
    protocols.CreateNode(
        kind="camera", name="CamB", camera=protocols.CameraParams(), transform=LOOKING_ALONG_Y
    ),
    protocols.CreateNode(kind="light", name="Key", light=protocols.LightParams()),
)
TEST_BYTES = b"test"  # sha256 9f86d081…: the hash the document's asset examples use


def _example(type_name: str) -> dict | None:
    found = JSON_BLOCK.search(_sections()[type_name])
    return json.loads(found.group(1)) if found else None


def _frames_for(body, frames: list[bytes]):
    """The example's raw-frame references, each given a frame of its dtype and shape."""
    if isinstance(body, dict):
        if "$frame" in body:
            if "dtype" not in body:
                frames.append(TEST_BYTES)
                return {"$frame": len(frames) - 1}
            array = np.zeros(body["shape"], dtype=np.dtype(body["dtype"]))
            if array.ndim == 2 and array.shape[1] == 4:
                array[:, 0] = 1.0  # unit quaternions
            frames.append(array.tobytes())
            return {**body, "$frame": len(frames) - 1}
        return {k: _frames_for(v, frames) for k, v in body.items()}
    if isinstance(body, list):
        return [_frames_for(v, frames) for v in body]
    return body


def _restore_fixture(client) -> None:
    """Bring back every fixture node an earlier example deleted or renamed."""
    names = {n.uuid: n.name for n in client.tree().nodes}
    by_name = {name: uuid for uuid, name in names.items()}
    for command in FIXTURE:
        if command.uuid is not None and command.uuid in names:
            if names[command.uuid] != command.name:
                client.apply(protocols.RenameNode(node=command.uuid, name=command.name))
        elif command.name not in by_name:
            client.apply(command)


def test_every_request_example_gets_the_documented_reply(empty_stage):
    examples = [name for name in TYPE_HEADING.findall(DOC) if SECTION_OF[name] in ("Commands", "Queries")]
    assert [name for name in examples if _example(name) is None] == [], "every request has an example"
    with empty_stage.client() as client:
        client.request(protocols.PutAsset(filename="test.bin", data=TEST_BYTES))
        for name in examples:
            _restore_fixture(client)
            body = _example(name)
            if name == "create_node":  # it creates a fixture node: make room for it
                client.apply(protocols.DeleteNode(node=body["name"]))
            frames: list[bytes] = []
            header = {"v": protocols.PROTOCOL_VERSION, "id": f"doc-{name}", "type": name, "session": "doc"}
            header["body"] = _frames_for(body, frames)
            client.send_raw([msgpack.packb(header, use_bin_type=True), *frames])
            reply = client.receive_raw(timeout=60).body
            documented = REPLY_OF.search(_sections()[name])
            expected = documented.group(1) if documented else "applied"
            assert expected == reply.TYPE, f"{name}: {reply}"


def test_every_reply_example_is_a_valid_message():
    for name in TYPE_HEADING.findall(DOC):
        if SECTION_OF[name] in ("Commands", "Queries") or (body := _example(name)) is None:
            continue
        frames: list[bytes] = []
        wired = _frames_for(body, frames)
        decoded = protocols.from_wire(protocols.registered_types()[name], wired, protocols.Frames(frames))
        assert decoded is not None, name


def test_the_optics_example_holds_the_numbers_the_stage_computes(empty_stage):
    example = _example("optics")
    with empty_stage.client() as client:
        camera = protocols.CameraParams(
            body=example["body"],
            lens_name=example["lens"],
            lens=example["focal_mm"],
            fstop=example["fstop"],
            focus_distance=example["focus_m"],
        )
        client.apply(protocols.CreateNode(kind="camera", name="Doc", camera=camera))
        readout = client.request(protocols.GetOptics(node="Doc"))
    for key, documented in example.items():
        if key == "node" or isinstance(documented, str):
            continue
        shown = len(str(documented).partition(".")[2])  # the digits the document shows
        assert round(getattr(readout, key), shown) == documented, key

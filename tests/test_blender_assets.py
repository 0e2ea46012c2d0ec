"""Asset import through the Blender stage: every format, stable part UUIDs, round trips, bad files."""

from __future__ import annotations

import base64
import json
import struct
import uuid

import bpy
import pytest

from protocols import (
    AssetRef,
    CreateNode,
    DeleteNode,
    Forbidden,
    InvalidArgument,
    MaterialParams,
    RenameNode,
    SetMaterial,
    SetTransform,
)
from scene import AssetStore, Stage

OBJ = "o Tri\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\no Quad\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\nf 4 5 6 7\n"


def _gltf() -> str:
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    uri = "data:application/octet-stream;base64," + base64.b64encode(positions).decode()
    return json.dumps(
        {
            "asset": {"version": "2.0"},
            "scene": 0,
            "scenes": [{"nodes": [0]}],
            "nodes": [
                {"name": "Holder", "children": [1]},
                {"name": "Tri", "mesh": 0, "translation": [0, 0, 1]},
            ],
            "meshes": [{"name": "TriMesh", "primitives": [{"attributes": {"POSITION": 0}}]}],
            "buffers": [{"byteLength": 36, "uri": uri}],
            "bufferViews": [{"buffer": 0, "byteLength": 36}],
            "accessors": [
                {
                    "bufferView": 0,
                    "componentType": 5126,
                    "count": 3,
                    "type": "VEC3",
                    "min": [0, 0, 0],
                    "max": [1, 1, 0],
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def asset_dir(tmp_path_factory):
    """Asset files of every format; FBX, USD and .blend made with bpy's exporters."""
    root = tmp_path_factory.mktemp("assets")
    (root / "tri.obj").write_text(OBJ)
    (root / "tri.gltf").write_text(_gltf())
    (root / "broken.glb").write_bytes(b"glTF this is not")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    holder = bpy.data.objects.new("Holder", None)
    mesh = bpy.data.meshes.new("Box")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)], [], [(0, 1, 2, 3)])
    box = bpy.data.objects.new("Box", mesh)
    box.parent = holder
    box.location = (0, 0, 2)
    for obj in (holder, box):
        scene.collection.objects.link(obj)
    bpy.ops.export_scene.fbx(filepath=str(root / "box.fbx"), object_types={"ARMATURE", "MESH", "EMPTY"})
    bpy.ops.wm.usd_export(filepath=str(root / "box.usdc"))
    bpy.data.libraries.write(str(root / "box.blend"), {holder, box})
    return root


@pytest.fixture
def stage(tmp_path, asset_dir):
    stage = Stage(AssetStore(tmp_path / "store", roots=(asset_dir,)), isolate_imports=True)
    stage.reset()
    return stage


def state_of(stage):
    return stage.scene_settings(), stage.snapshot_nodes()


@pytest.mark.parametrize("filename", ["tri.obj", "tri.gltf", "box.fbx", "box.usdc", "box.blend"])
def test_import_round_trips(stage, asset_dir, filename):
    resolved, touched = stage.apply(
        CreateNode(kind="asset", name="Prop", asset=AssetRef(path=filename), transform=None)
    )
    assert resolved.asset.path is None and resolved.asset.sha256 in stage.assets
    assert (
        resolved.asset.format
        == {"obj": "obj", "gltf": "gltf", "fbx": "fbx", "usdc": "usdc", "blend": "blend"}[
            filename.rsplit(".", 1)[1]
        ]
    )
    nodes = stage.snapshot_nodes()
    assert nodes[0].kind == "asset" and len(nodes) == len(touched) > 1
    parts = nodes[1:]
    assert all(p.source == resolved.uuid for p in parts)
    meshes = [p for p in parts if p.kind == "mesh"]
    assert meshes and all(p.mesh is None for p in meshes)
    for part in parts:
        obj = bpy.data.objects[part.name]
        assert part.uuid == uuid.uuid5(uuid.UUID(resolved.uuid), obj.name).hex
    # edit a part, delete another (if any), then dump -> rebuild -> dump
    stage.apply(SetTransform(node=meshes[0].uuid, location=(1, 2, 3)))
    stage.apply(RenameNode(node=meshes[0].uuid, name="Renamed"))
    if meshes[0].material is not None or not bpy.data.objects["Renamed"].data.materials:
        stage.apply(
            SetMaterial(node="Renamed", material=MaterialParams(base_color=(1, 0, 0, 1), normal_strength=1))
        )
    parents = {p.parent for p in parts}
    leaves = [p for p in parts if p.uuid not in parents and p.uuid != meshes[0].uuid]
    if leaves:
        stage.apply(DeleteNode(node=leaves[0].uuid))
    settings, nodes = state_of(stage)
    stage.rebuild(settings, nodes, stage.assets.read)
    assert state_of(stage) == (settings, nodes)


def test_import_keeps_file_names_when_a_node_has_that_name(stage):
    stage.apply(CreateNode(kind="empty", name="Tri"))
    resolved, touched = stage.apply(CreateNode(kind="asset", name="A", asset=AssetRef(path="tri.obj")))
    assert stage.node_state("Tri").kind == "empty"
    assert set(touched[1:]) == {uuid.uuid5(uuid.UUID(resolved.uuid), n).hex for n in ("Tri", "Quad")}


def test_rebuild_fetches_missing_blobs(stage, tmp_path):
    stage.apply(CreateNode(kind="asset", name="A", asset=AssetRef(path="tri.gltf")))
    settings, nodes = state_of(stage)
    fresh = Stage(AssetStore(tmp_path / "other-store"))
    fresh.rebuild(settings, nodes, stage.assets.read)
    assert state_of(fresh) == (settings, nodes)


def test_corrupt_file_leaves_nothing(stage):
    stage.apply(CreateNode(kind="empty", name="E"))
    before = state_of(stage)
    objects, meshes = len(bpy.data.objects), len(bpy.data.meshes)
    with pytest.raises(InvalidArgument, match=r"broken\.glb|glb"):
        stage.apply(CreateNode(kind="asset", name="A", asset=AssetRef(path="broken.glb")))
    assert state_of(stage) == before
    assert (len(bpy.data.objects), len(bpy.data.meshes)) == (objects, meshes)


def test_path_outside_roots_is_forbidden(stage, tmp_path):
    outside = tmp_path / "x.obj"
    outside.write_text(OBJ)
    with pytest.raises(Forbidden):
        stage.apply(CreateNode(kind="asset", name="A", asset=AssetRef(path=str(outside))))
    assert stage.snapshot_nodes() == ()


def test_save_load_keeps_asset_uuids(stage, tmp_path):
    stage.apply(CreateNode(kind="asset", name="A", asset=AssetRef(path="box.fbx")))
    before = state_of(stage)
    stage.save(tmp_path / "s.blend")
    stage.reset()
    stage.load(tmp_path / "s.blend")
    assert state_of(stage) == before


def _gltf_with_uri(uri: str) -> str:
    document = json.loads(_gltf())
    document["buffers"][0]["uri"] = uri
    return json.dumps(document)


@pytest.mark.parametrize(
    ("filename", "content", "names"),
    [
        ("abs.gltf", _gltf_with_uri("/etc/passwd"), "glTF buffer URI '/etc/passwd'"),
        ("rel.gltf", _gltf_with_uri("../../outside.bin"), "glTF buffer URI '../../outside.bin'"),
        ("mtl.obj", "mtllib /etc/hosts.mtl\n" + OBJ, "OBJ mtllib '/etc/hosts.mtl'"),
        (
            "ref.usda",
            '#usda 1.0\ndef Xform "A" (references = @/etc/hosts@) {}\n',
            "USD asset path '/etc/hosts'",
        ),
    ],
)
def test_external_references_outside_the_roots_are_refused(stage, asset_dir, filename, content, names):
    (asset_dir / filename).write_text(content)
    with pytest.raises(InvalidArgument, match="points outside the stage's asset roots") as refused:
        stage.apply(CreateNode(kind="asset", name="A", asset=AssetRef(path=filename)))
    assert names in refused.value.message
    assert stage.snapshot_nodes() == ()


def test_a_reference_inside_an_asset_root_is_followed(stage, asset_dir):
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    (asset_dir / "tri.bin").write_bytes(positions)
    (asset_dir / "inside.gltf").write_text(_gltf_with_uri(str(asset_dir / "tri.bin")))
    _, touched = stage.apply(CreateNode(kind="asset", name="A", asset=AssetRef(path="inside.gltf")))
    assert len(touched) == 3  # the asset node, Holder, Tri


def test_damaged_blend_files_never_reach_the_stage(stage, asset_dir, tmp_path):
    """Bit flips through a .blend: each import either works or is an error; the stage is untouched."""
    stage.apply(CreateNode(kind="empty", name="Keep"))
    before = state_of(stage)
    original = (asset_dir / "box.blend").read_bytes()
    outcomes = []
    for i, offset in enumerate(range(200, len(original), max(1, len(original) // 6))):
        damaged = bytearray(original)
        damaged[offset] ^= 0x40
        sha = stage.assets.put_bytes(bytes(damaged))
        try:
            _, touched = stage.apply(
                CreateNode(kind="asset", name=f"D{i}", asset=AssetRef(sha256=sha, format="blend"))
            )
        except InvalidArgument as exc:
            assert "could not be imported as blend" in exc.message
            outcomes.append("refused")
            assert state_of(stage) == before
        else:
            outcomes.append("imported")
            stage.apply(DeleteNode(node=touched[0]))
    assert len(outcomes) >= 5
    assert state_of(stage)[1][0].name == "Keep"

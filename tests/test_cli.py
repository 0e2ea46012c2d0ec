"""The `stagecraft` command line against a real server running the bundled default stage."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from harness import ROOT


def stagecraft(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stagecraft_cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def default_stage(tmp_path_factory):
    from harness import StageProcess

    process = StageProcess(tmp_path_factory.mktemp("cli") / "stage").start()
    yield process
    process.kill()


def test_scene_prints_the_default_film_set(default_stage) -> None:
    result = stagecraft("scene", "--connect", default_stage.commands)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("Floor", "Backdrop", "Crate", "Hero", "CamA", "CamB", "Key", "Fill", "Rim"):
        assert any(line.strip().startswith(f"{name} ") for line in lines), name
    shaker = next(line for line in lines if line.strip().startswith("Shaker "))
    assert "bone right_wrist" in shaker and shaker.startswith("  "), "the shaker hangs from the hand bone"


def test_cmd_applies_and_queries(default_stage) -> None:
    moved = stagecraft(
        "cmd", "--connect", default_stage.commands, "set_transform", "node=Crate", "location=[1,2,0.5]"
    )
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["seq"] > 0
    node = stagecraft("cmd", "--connect", default_stage.commands, "get_node", "node=Crate")
    reply = json.loads(node.stdout)
    assert reply["seq"] >= json.loads(moved.stdout)["seq"], "the reply says the seq it holds at"
    assert reply["node"]["transform"]["location"] == pytest.approx([1.0, 2.0, 0.5])
    roughness = stagecraft(
        "cmd", "--connect", default_stage.commands, "set_material", "node=Crate", "material.roughness=0.25"
    )
    assert roughness.returncode == 0, roughness.stderr


def test_cmd_reports_bad_input_clearly(default_stage) -> None:
    result = stagecraft(
        "cmd", "--connect", default_stage.commands, "set_camera", "node=CamA", "camera.fstop=0.2"
    )
    assert result.returncode == 2
    assert "invalid_argument" in result.stderr and "camera.fstop" in result.stderr and "0.7" in result.stderr
    missing = stagecraft("cmd", "--connect", default_stage.commands, "get_node", "node=Nobody")
    assert missing.returncode == 2 and "not_found" in missing.stderr and "Nobody" in missing.stderr
    unknown = stagecraft("cmd", "--connect", default_stage.commands, "explode")
    assert unknown.returncode == 2 and "unknown message type" in unknown.stderr


def test_watch_prints_events_as_they_happen(default_stage) -> None:
    head = json.loads(stagecraft("cmd", "--connect", default_stage.commands, "hello").stdout)["seq"]
    watch = ["watch", "--connect", default_stage.commands, "--count", "2", "--after", str(head)]
    watcher = subprocess.Popen(
        [sys.executable, "-m", "stagecraft_cli", *watch],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # the watcher may subscribe after these commands: it catches up from the journal
        for x in (3.0, 4.0):
            done = stagecraft(
                "cmd",
                "--connect",
                default_stage.commands,
                "set_transform",
                "node=Crate",
                f"location=[{x},0,0]",
            )
            assert done.returncode == 0, done.stderr
        out, _ = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in events] == ["set_transform", "set_transform"]
    assert events[1]["seq"] == events[0]["seq"] + 1


def test_render_writes_a_frame_of_the_stage(default_stage, tmp_path) -> None:
    import bpy

    out = tmp_path / "frame.png"
    result = stagecraft(
        "render", "--connect", default_stage.commands, "--camera", "CamA", "--engine", "cycles",
        "--resolution", "96x54", "--samples", "2", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    image = bpy.data.images.load(str(out))
    try:
        assert tuple(image.size) == (96, 54)
        pixels = np.empty(96 * 54 * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    rgb = pixels.reshape(54, 96, 4)[..., :3]
    assert rgb.mean() > 0.02, "the frame is not black"
    assert rgb.std() > 0.02, "the frame shows something, not a flat colour"


def test_serve_refuses_a_remote_address_without_authentication(tmp_path) -> None:
    result = stagecraft("serve", "--empty", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr


def test_focal_stack_sweeps_between_two_nodes(default_stage, tmp_path) -> None:
    import av

    out = tmp_path / "stack.mp4"
    result = stagecraft(
        "focal-stack", "--connect", default_stage.commands, "--camera", "CamB",
        "--targets", "Shaker", "Backdrop", "--frames", "3",
        "--resolution", "96x54", "--samples", "2", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 3
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1.0, "focus moved"

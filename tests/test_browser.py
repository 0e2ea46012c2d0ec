"""The web stage in a real browser: Debian's headless Chromium, driven by playwright-core
(``tests/browser/stage_check.mjs``), against a real stage started with ``--web-port 0``.

Skipped only where Chromium is missing outside CI; ``make test`` installs it, and in CI
(``CI`` set) these tests always run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from harness import StageProcess

from protocols import NotFound

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
BROWSER_DIR = Path(__file__).resolve().parent / "browser"
CHECK_TIMEOUT_S = 240

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason=f"{CHROMIUM} is not installed (make test installs it; in CI this test runs)",
)


@pytest.fixture(scope="module")
def web_stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StageProcess]:
    stage = StageProcess(tmp_path_factory.mktemp("web") / "stage", "--web-port", "0").start()
    try:
        yield stage
    finally:
        if stage.running:
            stage.stop()


def stage_check(url: str, scenario: str, **options: object) -> dict:
    """Run one browser scenario; its JSON result, or a failure with the page's console."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; the browser tests need it (and `npm ci` in tests/browser)")
    command = [node, str(BROWSER_DIR / "stage_check.mjs"), url, scenario, json.dumps(options)]
    done = subprocess.run(
        command,
        cwd=BROWSER_DIR,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_S,
        env={**os.environ, "CHROMIUM": str(CHROMIUM)},
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        pytest.fail(f"stage_check.mjs printed nothing (exit {done.returncode}):\n{done.stderr}")
    report = json.loads(lines[-1])
    if not report["ok"]:
        logs = "\n".join(report["logs"])
        pytest.fail(f"scenario {scenario} failed: {report['error']}\npage log:\n{logs}\n{done.stderr}")
    return report["result"]


def test_page_receives_live_video(web_stage: StageProcess) -> None:
    result = stage_check(web_stage.web, "video", minFrames=30)
    assert result["framesDecoded"] > 30
    assert result["fps"] > 0
    frame = result["frame"]
    assert (frame["width"], frame["height"]) == (640, 360)
    # A rendered stage, not a black or flat frame.
    assert frame["stddev"] > 5
    assert frame["colours"] > 50


def test_focal_length_from_the_inspector_reaches_the_stage_and_a_second_tab(web_stage: StageProcess) -> None:
    with web_stage.client() as client:
        before = client.node("CamA").camera.lens
        lens = 50.0 if before != 50.0 else 35.0
        result = stage_check(web_stage.web, "lens", camera="CamA", lens=lens)
        assert result["before"] == before
        assert result["tab1"] == result["tab2"] == lens
        assert client.node("CamA").camera.lens == lens


def test_a_bad_value_shows_the_servers_error_beside_the_field(web_stage: StageProcess) -> None:
    with web_stage.client() as client:
        fstop = client.node("CamA").camera.fstop
        result = stage_check(web_stage.web, "bad-field", camera="CamA", field="fstop", value="0.2")
        assert result["code"] == "invalid_argument"
        assert "fstop" in result["error"]
        assert "0.7" in result["error"]
        assert result["rowHasError"]
        assert client.node("CamA").camera.fstop == fstop


def test_beyond_loopback_the_page_streams_with_the_token_from_its_address(tmp_path: Path) -> None:
    """The address the stage prints (with its token) is all a browser needs; without it, no stage."""
    stage = StageProcess(
        tmp_path / "stage", "--host", "0.0.0.0", "--allow-unauthenticated-remote", "--web-port", "0"
    ).start()
    try:
        printed = stage.web  # http://0.0.0.0:PORT/?token=…
        address = printed.replace("0.0.0.0", "127.0.0.1")
        result = stage_check(address, "video", minFrames=10)
        assert result["framesDecoded"] > 10 and result["frame"]["stddev"] > 5
        without = subprocess.run(
            [shutil.which("node"), str(BROWSER_DIR / "stage_check.mjs"), address.split("?")[0], "video",
             json.dumps({"timeoutMs": 5000})],
            cwd=BROWSER_DIR, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S,
            env={**os.environ, "CHROMIUM": str(CHROMIUM)},
        )  # fmt: skip
        assert not json.loads(without.stdout.strip().splitlines()[-1])["ok"]
    finally:
        stage.stop()


def test_inspector_fields_show_the_stage_value_unless_typed_in(web_stage: StageProcess) -> None:
    """A focused field follows a change from another tab; a refused entry reverts on Esc."""
    with web_stage.client() as client:
        lens = 28.0 if client.node("CamA").camera.lens != 28.0 else 40.0
    result = stage_check(web_stage.web, "stale", camera="CamA", lens=lens, bad=0.0)
    assert result["focusedFollowed"], "the field kept focus while it showed the new value"
    assert result["refusedShown"] == 0.0, "the refused entry stays visible beside its error until Esc"
    assert result["reverted"] == lens and result["errorHidden"]


def test_the_first_picture_of_a_new_view_is_a_real_render(web_stage: StageProcess) -> None:
    """No black stand-in under a LIVE badge: the page shows "rendering…" until the first render."""
    result = stage_check(web_stage.web, "first-frame", size="480x270")
    assert (result["first"]["width"], result["first"]["height"]) == (480, 270)
    first = result["first"]
    assert first["mean"] > 10 and first["stddev"] > 5, f"the picture at LIVE is a render, not black: {first}"
    states = result["states"]
    assert states[-1] == "live" and "error" not in states, states


LOOK = {"size": "320x180", "samples": 16}
DOWN_Y = (0.7071068, 0.7071068, 0.0, 0.0)  # a camera turned to look along +y


def _build_look_corner(client) -> None:
    """Away from the bar set: a camera with an 85 mm at f/1.4, white bars 2 m from it (left of
    frame) and 12 m from it (right), and a white box under a spot light beside another camera."""
    from protocols import CameraParams, CreateNode, LightParams, MaterialParams, MeshSpec, Transform

    glow = MaterialParams(
        base_color=(0.0, 0.0, 0.0, 1.0), emission_color=(1.0, 1.0, 1.0), emission_strength=0.5
    )  # not clipped: a blurred bar's peak falls
    commands = [
        CreateNode(kind="camera", name="DPCam", transform=Transform(location=(40, -2, 1), rotation=DOWN_Y),
                   camera=CameraParams(lens=85.0, sensor_width=36.0, sensor_fit="horizontal", use_dof=True,
                                       fstop=1.4, focus_distance=5.0)),
        CreateNode(kind="camera", name="LightCam", transform=Transform((-40, -3, 0.5), rotation=DOWN_Y),
                   camera=CameraParams(lens=50.0, sensor_width=36.0, sensor_fit="horizontal")),
        CreateNode(kind="mesh", name="ProbeBox", mesh=MeshSpec(primitive="cube", size=1.0),
                   transform=Transform(location=(-40.0, 0.0, 0.5)),
                   material=MaterialParams(base_color=(0.8, 0.8, 0.8, 1.0), roughness=0.9)),
        CreateNode(kind="light", name="Probe", transform=Transform(location=(-40.0, -1.5, 1.5)),
                   light=LightParams(light_type="point", energy=50.0, radius=0.05)),
    ]  # fmt: skip
    for i, x in enumerate((-0.3, -0.22, -0.14)):  # 2 m away: 378 px/m at 320 px
        commands.append(CreateNode(kind="mesh", name=f"NearBar{i}", mesh=MeshSpec(primitive="cube", size=1.0),
                                   transform=Transform(location=(40 + x, 0, 1), scale=(0.015, 0.015, 0.3)),
                                   material=glow))  # fmt: skip
    for i, x in enumerate((0.8, 1.3, 1.8)):  # 12 m away: 63 px/m
        commands.append(CreateNode(kind="mesh", name=f"FarBar{i}", mesh=MeshSpec(primitive="cube", size=1.0),
                                   transform=Transform(location=(40 + x, 10, 1), scale=(0.09, 0.09, 1.8)),
                                   material=glow))  # fmt: skip
    for command in commands:
        client.apply(command)


def test_depth_of_field_shows_in_the_live_picture(web_stage: StageProcess) -> None:
    """Focus on the near bars, then on the far ones (as a DP types it): in the converged picture the
    sharpness of the two regions swaps."""
    with web_stage.client() as client:
        _build_look_corner(client)
    regions = {"near": [30, 40, 130, 140], "far": [190, 40, 290, 140]}
    steps = [
        {"node": "DPCam", "set": {"focus-distance": 2.0}},
        {"node": "DPCam", "set": {"focus-distance": 12.0}},
    ]
    near_focus, far_focus = stage_check(web_stage.web, "look", camera="DPCam", regions=regions, steps=steps,
                                        **LOOK)["steps"]  # fmt: skip
    assert near_focus["near"]["sharpness"] > 2 * near_focus["far"]["sharpness"], near_focus
    assert far_focus["far"]["sharpness"] > 2 * far_focus["near"]["sharpness"], far_focus


def _linear_from_display(codes: np.ndarray) -> np.ndarray:
    """Display luminance codes back to scene-linear light, through the stage's own view transform
    (Blender's default scene: the one the stage renders with), by inverting it on a grey ramp."""
    import bpy

    from renderers import display

    bpy.ops.wm.read_factory_settings(use_empty=True)
    ramp = np.geomspace(1e-4, 64.0, 2048, dtype=np.float32)
    shown = display(np.repeat(ramp[None, :, None], 3, axis=2))[0].astype(np.float64)
    luminance = shown @ np.array([0.2126, 0.7152, 0.0722])
    return np.interp(codes, luminance, ramp)


def test_light_power_changes_the_picture_in_proportion(web_stage: StageProcess) -> None:
    """A lamp's power from 0 to 150 W to 450 W: the light it adds to the box it shines on (in linear
    light, after the view transform is undone) triples, within 25 %."""
    with web_stage.client() as client:
        try:
            client.node("Probe")
        except NotFound:  # this test alone
            _build_look_corner(client)
    steps = [{"node": "Probe", "set": {"energy": e}} for e in (0.0, 150.0, 450.0)]
    measured = stage_check(web_stage.web, "look", camera="LightCam", regions={"box": [130, 60, 190, 120]},
                           steps=steps, **LOOK)["steps"]  # fmt: skip
    dark, lit, brighter = _linear_from_display(np.array([s["box"]["mean"] for s in measured]))
    assert lit > dark
    assert (brighter - dark) / (lit - dark) == pytest.approx(3.0, rel=0.25), measured


def test_frame_guides_are_drawn_where_the_frame_is(web_stage: StageProcess) -> None:
    """A 2.39:1 frame on the 16:9 picture dims the bands above and below it; the thirds and the
    safe areas are drawn inside it: the overlay lies exactly on the picture."""
    result = stage_check(web_stage.web, "guides")
    canvas, picture = result["canvas"], result["picture"]
    for key in ("x", "y", "width", "height"):
        assert canvas[key] == pytest.approx(picture[key], abs=1.0), (canvas, picture)
    width, height = canvas["px"]
    assert result["dimmedRows"] == pytest.approx(height - width / 2.39, abs=3)  # both bands
    marks = result["marks"]  # along the middle row: action safe, title safe, thirds, from the left
    expected = [width * (1 - 0.93) / 2, width * (1 - 0.9) / 2, width / 3, 2 * width / 3]
    for x in expected:
        assert any(abs(m - x) <= 2 for m in marks), (x, marks)


def test_bodies_and_lenses_are_picked_from_the_stage_table_and_the_glass_holds(
    web_stage: StageProcess,
) -> None:
    """The inspector offers the stage's bodies and lenses; picking them sets the camera; a focal
    length no lens has and a stop the mounted lens cannot take are refused with the stage's words."""
    with web_stage.client() as client:
        from protocols import CameraParams, CreateNode, Transform

        client.apply(CreateNode(kind="camera", name="KitCam", transform=Transform(location=(0, -8, 1.5)),
                                camera=CameraParams(lens=35.0)))  # fmt: skip
    sets = [["body", "arri_alexa_mini_lf"], ["lens-name", "prime_85"], ["fstop", 0.9], ["lens", 0.5],
            ["lens", 5000], ["recording-area", "LF 16:9 UHD"]]  # fmt: skip
    result = stage_check(web_stage.web, "fields", node="KitCam", list=["body", "lens-name"], set=sets)
    assert {"arri_alexa_mini_lf", "full_frame"} <= set(result["offered"]["body"])
    assert {"prime_85", "anamorphic_2x_50"} <= set(result["offered"]["lens-name"])
    errors = [error for _, error in result["errors"]]
    assert errors[0] is None and errors[1] is None, result["errors"]
    assert "f/0.9" in errors[2] and "85" in errors[2], errors[2]
    assert "not a lens" in errors[3] and "not a lens" in errors[4]
    with web_stage.client() as client:
        camera = client.node("KitCam").camera
    assert (camera.body, camera.lens_name, camera.lens) == ("arri_alexa_mini_lf", "prime_85", 85.0)
    assert errors[5] is None and camera.recording_area == "LF 16:9 UHD"
    assert (camera.sensor_width, camera.sensor_height) == (pytest.approx(31.68), pytest.approx(17.82))


def test_the_dp_tools_focus_peak_scrub_and_put_the_viewport_at_the_camera(web_stage: StageProcess) -> None:
    """On a camera with depth of field: the focus scale shows the stage's near–far band and the
    wheel over it pulls focus; peaking marks edges; the scrubber sets the stage's frame; the
    viewport "to camera" sees what the camera sees (same pose, same angle of view)."""
    from protocols import CameraParams, CreateNode, GetOptics, GetSnapshot, SetFrameRange, Transform

    with web_stage.client() as client:
        lens = CameraParams(lens=50.0, sensor_width=27.99, sensor_fit="horizontal", use_dof=True, fstop=2.0,
                            focus_distance=4.0)  # fmt: skip
        at = Transform((0.5, -7, 1.5), DOWN_Y)
        client.apply(CreateNode(kind="camera", name="ToolCam", transform=at, camera=lens))
        client.apply(SetFrameRange(current=1))
        optics = client.request(GetOptics(node="ToolCam"))
    result = stage_check(web_stage.web, "dp-tools", camera="ToolCam", frame=37)
    assert result["focusBefore"] == pytest.approx(4.0)
    assert result["band"]["near"] == pytest.approx(optics.near_m, rel=1e-3)
    assert result["focusAfter"] > result["focusBefore"], "the wheel pulled focus out"
    with web_stage.client() as client:
        assert client.node("ToolCam").camera.focus_distance == pytest.approx(result["focusAfter"], abs=1e-3)
        assert client.request(GetSnapshot()).scene.frame_current == 37
    assert result["peaked"] > 50
    camera, viewport = (np.array(p["luma"], float).reshape(p["height"], p["width"]) for p in
                        (result["camera"], result["viewport"]))  # fmt: skip
    coarse = [
        p.reshape(p.shape[0] // 10, 10, p.shape[1] // 10, 10).mean(axis=(1, 3)) for p in (camera, viewport)
    ]
    # the same picture: 0.3 codes apart in 10 px blocks (the camera's own focal length on the
    # viewport's 36 mm sensor would be 7.8 apart: a wider angle)
    assert np.abs(coarse[0] - coarse[1]).mean() < 2, "the viewport sees the camera's picture"

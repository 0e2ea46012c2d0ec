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

import pytest
from harness import StageProcess

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

"""The web stage end to end: a real server with ``--web-port 0``, render workers, and an aiortc
page client (driven from trio through the asyncio bridge) doing real signaling over a WebSocket."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.request
from typing import Any

import numpy as np
import pytest
import trio
import trio_websocket
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from harness import StageProcess

from engine_server._web._aio_bridge import AsyncioBridge, open_asyncio_bridge
from engine_server._web._rtc import allow_loopback_candidates

W, H = 320, 180
TOP_CAMERA = {
    "kind": "camera",
    "name": "TopCam",
    "transform": {"location": [0.0, 0.0, 20.0]},
    "camera": {"lens": 35.0, "sensor_width": 36.0, "sensor_fit": "horizontal"},
}
SETTLE_FRAMES = 30
MOVED = 10  # mean colour difference where the crate was or is (crate vs floor: ~20)
PX_PER_M = W / (20.0 * 36.0 / 35.0)  # looking straight down from 20 m


def pixel(x: float, y: float) -> tuple[int, int]:
    """(row, column) of the world point (x, y, 0) in TopCam's picture."""
    return round(H / 2 - y * PX_PER_M), round(W / 2 + x * PX_PER_M)


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    server = StageProcess(tmp_path_factory.mktemp("web"), "--web-port", "0", "--render-workers", "1").start()
    try:
        with server.client() as client:
            from protocols import CameraParams, CreateNode, Transform

            client.apply(
                CreateNode(
                    kind="camera",
                    name="TopCam",
                    transform=Transform(location=(0.0, 0.0, 20.0)),
                    camera=CameraParams(lens=35.0, sensor_width=36.0, sensor_fit="horizontal"),
                )
            )
        yield server
    finally:
        server.stop()


def status(server: StageProcess) -> dict[str, Any]:
    with urllib.request.urlopen(server.web + "status.json", timeout=10) as reply:
        return json.load(reply)


class Page:
    """What a browser page does: signaling on the WebSocket, video and two data channels."""

    def __init__(self, bridge: AsyncioBridge, socket: trio_websocket.WebSocketConnection) -> None:
        self.bridge = bridge
        self.socket = socket
        self.pc: RTCPeerConnection | None = None
        self.frame: np.ndarray | None = None
        self.frames = 0
        self.channel_open = False
        self.replies: dict[str, dict] = {}
        self.events: list[dict] = []
        self.stats: list[dict] = []
        self._changed = trio.Event()
        self._ids = 0

    # asyncio side
    async def _offer(self) -> str:
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.stage = self.pc.createDataChannel("stage")
        self.input = self.pc.createDataChannel("input", ordered=False)
        self.stage.on("message", lambda text: self.bridge.to_trio(self._on_stage, text))
        self.stage.on("open", lambda: self.bridge.to_trio(self._on_open))

        @self.pc.on("track")
        def on_track(track) -> None:
            async def pull() -> None:
                while True:
                    try:
                        frame = await track.recv()
                    except MediaStreamError:
                        return  # the connection closed
                    self.bridge.to_trio(self._on_frame, frame.to_ndarray(format="rgb24"))

            self._pull = asyncio.ensure_future(pull())

        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def _answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def _close(self) -> None:
        await self.pc.close()

    # trio side
    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _on_open(self) -> None:
        self.channel_open = True
        self._notify()

    def _on_frame(self, rgb: np.ndarray) -> None:
        self.frame, self.frames = rgb, self.frames + 1
        self._notify()

    def _on_stage(self, text: str) -> None:
        message = json.loads(text)
        if "event" in message:
            self.events.append(message["event"])
        elif "stats" in message:
            self.stats.append(message["stats"])
        else:
            self.replies[message["id"]] = message
        self._notify()

    async def wait_for(self, predicate, timeout: float = 30.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                await self._changed.wait()

    async def send(self, message: dict) -> None:
        await self.socket.send_message(json.dumps(message))

    async def receive(self) -> dict:
        with trio.fail_after(30):
            return json.loads(await self.socket.get_message())

    async def start(self, view: dict) -> dict:
        await self.send({"type": "hello"})
        welcome = await self.receive()
        assert welcome["type"] == "welcome"
        await self.send({"type": "offer", "sdp": await self.bridge.run(self._offer), "view": view})
        answer = await self.receive()
        assert answer["type"] == "answer", answer
        await self.bridge.run(self._answer, answer["sdp"])
        await self.wait_for(lambda: self.channel_open)
        return welcome

    async def request(self, kind: str, body: dict) -> dict:
        self._ids += 1
        request_id = f"r{self._ids}"
        self.bridge.call_soon(self.stage.send, json.dumps({"id": request_id, kind: body}))
        await self.wait_for(lambda: request_id in self.replies)
        return self.replies.pop(request_id)

    async def frame_after(self, count: int, predicate=lambda rgb: True, timeout: float = 30.0) -> np.ndarray:
        """The first frame after ``count`` frames that satisfies ``predicate``."""
        await self.wait_for(lambda: self.frames > count and predicate(self.frame), timeout)
        return self.frame

    async def close(self) -> None:
        # the WebSocket first: closed from this side, trio-websocket closes its TCP stream itself;
        # closed by the stage first (it ends a viewer whose video connection closed), the stream
        # is left to a reader task the test's nursery may cancel, and a socket leaks
        await self.socket.aclose()
        await self.bridge.run(self._close)


def _page_config(server: StageProcess) -> dict[str, Any]:
    with urllib.request.urlopen(server.web + "config.json", timeout=10) as reply:  # closed: no stray socket
        return json.load(reply)


async def open_page(nursery: trio.Nursery, bridge: AsyncioBridge, server: StageProcess) -> Page:
    config = await trio.to_thread.run_sync(_page_config, server)
    assert config["version"] == 1
    socket = await trio_websocket.connect_websocket_url(nursery, config["ws"])
    return Page(bridge, socket)


def change(before: np.ndarray, after: np.ndarray, at: tuple[int, int], radius: int = 3) -> float:
    """Mean absolute colour difference in a small box around pixel ``at``."""
    row, column = at
    box = np.s_[row - radius : row + radius + 1, column - radius : column + radius + 1]
    return float(np.abs(after[box].astype(int) - before[box].astype(int)).mean())


def not_blank(rgb: np.ndarray) -> bool:
    return rgb is not None and rgb.shape == (H, W, 3) and float(rgb.std()) > 5.0


def run(test):
    allow_loopback_candidates()

    async def main():
        async with open_asyncio_bridge() as bridge, trio.open_nursery() as nursery:
            await test(bridge, nursery)
            nursery.cancel_scope.cancel()

    trio.run(main)


# --- tests ------------------------------------------------------------------------------------------


def test_frames_arrive_and_a_moved_prop_changes_the_expected_region(stage):
    async def test(bridge, nursery):
        page = await open_page(nursery, bridge, stage)
        welcome = await page.start({"camera": "TopCam", "width": W, "height": H, "engine": "workbench"})
        assert "TopCam" in [c["name"] for c in welcome["cameras"]]
        await page.frame_after(0, not_blank)
        before = await page.frame_after(page.frames + SETTLE_FRAMES)  # the encoder's quality has ramped up
        reply = await page.request(
            "command", {"type": "set_transform", "node": "Crate", "location": [2.0, 0.2, 0.3]}
        )
        assert reply["ok"], reply
        await page.wait_for(lambda: any(e["seq"] == reply["result"]["seq"] for e in page.events))
        old, new = pixel(-2.0, 0.2), pixel(2.0, 0.2)
        after = await page.frame_after(page.frames, lambda rgb: change(before, rgb, new) > MOVED)
        after = await page.frame_after(page.frames + SETTLE_FRAMES)
        assert change(before, after, old) > MOVED  # the crate left its old place
        assert change(before, after, new) > MOVED  # and shows at its new place
        outside = np.ones((H, W), bool)
        for row, column in (old, new):
            outside[row - 15 : row + 16, column - 15 : column + 16] = False
        difference = np.abs(after.astype(int) - before.astype(int)).mean(axis=2)
        assert np.percentile(difference[outside], 99) < MOVED  # nothing else changed
        await page.close()

    run(test)


def test_bad_input_gets_an_error_and_another_viewer_keeps_streaming(stage):
    async def test(bridge, nursery):
        good = await open_page(nursery, bridge, stage)
        await good.start({"camera": "TopCam", "width": W, "height": H})
        await good.frame_after(0, not_blank)
        bad = await open_page(nursery, bridge, stage)
        for garbage, code in (
            ("{not json", "invalid_argument"),
            ('{"type": "launch"}', "unknown_command"),
            ('{"type": "view", "width": 100000, "height": 5}', "invalid_argument"),
            ('{"type": "offer", "sdp": "x", "view": {"width": 100000, "height": 5}}', "invalid_argument"),
        ):
            await bad.socket.send_message(garbage)
            error = await bad.receive()
            assert (error["type"], error["code"]) == ("error", code), error
            assert error["message"]
        await bad.start({"camera": "TopCam", "width": W, "height": H})
        for request, code in (
            ({"command": {"type": "set_transform", "node": "Crate", "location": [1, 2]}}, "invalid_argument"),
            ({"command": {"type": "format_disk"}}, "unknown_command"),
            ({"query": {"type": "put_asset", "filename": "x", "data": "y"}}, "unknown_command"),
        ):
            reply = await bad.request(*request.popitem())
            assert not reply["ok"] and reply["error"]["code"] == code, reply
        bad.bridge.call_soon(bad.stage.send, "garbage")
        await bad.wait_for(lambda: None in bad.replies)
        assert bad.replies[None]["error"]["code"] == "invalid_argument"
        bad.bridge.call_soon(bad.input.send, '{"orbit": [1e308, "x"]}')
        error = await bad.receive()
        assert (error["code"], error["field"]) == ("invalid_argument", "orbit")
        seen = good.frames
        await good.frame_after(seen + 10, not_blank)  # the other viewer is unaffected
        await bad.close()
        await good.close()

    run(test)


def test_a_killed_worker_restarts_and_a_vanished_viewer_frees_its_view(stage):
    async def test(bridge, nursery):
        page = await open_page(nursery, bridge, stage)
        await page.start({"camera": "TopCam", "width": W, "height": H})
        await page.frame_after(0, not_blank)
        (worker,) = status(stage)["workers"]
        assert len(worker["views"]) == 1
        os.kill(worker["pid"], signal.SIGKILL)
        reply = await page.request(
            "command", {"type": "set_transform", "node": "Crate", "location": [0, -2, 0.3]}
        )
        assert reply["ok"]
        spot = pixel(0.0, -2.0)
        before = page.frame
        await page.frame_after(page.frames, lambda rgb: change(before, rgb, spot) > MOVED, timeout=60)
        (restarted,) = status(stage)["workers"]
        assert restarted["pid"] != worker["pid"] and restarted["restarts"] >= 1
        await page.close()

        async def freed():
            while status(stage)["views"]:
                await trio.sleep(0.05)  # polling the diagnostics endpoint, not synchronising on time

        with trio.fail_after(20):
            await freed()
        assert status(stage)["workers"][0]["views"] == []

    run(test)


def test_viewers_of_one_camera_share_one_render(stage):
    async def test(bridge, nursery):
        first = await open_page(nursery, bridge, stage)
        await first.start({"camera": "TopCam", "width": W, "height": H})
        await first.frame_after(0, not_blank)
        second = await open_page(nursery, bridge, stage)
        await second.start({"camera": "TopCam", "width": W, "height": H})
        # the stage has not changed: the late viewer gets the shared render's picture at once
        await second.frame_after(0, not_blank, timeout=20)
        assert len(status(stage)["views"]) == 1, "one render for two viewers"
        await first.close()
        await second.frame_after(second.frames + 5, not_blank)  # still streaming for the other
        await second.close()

    run(test)


def test_the_bridge_runs_asyncio_from_trio_and_back():
    async def main():
        async with open_asyncio_bridge() as bridge:
            loop_thread = await bridge.run(_thread_name)
            assert loop_thread == "stagecraft-asyncio"
            assert await bridge.run(_add, 2, 3) == 5
            with pytest.raises(ValueError, match="boom"):
                await bridge.run(_fail)
            done = trio.Event()
            bridge.call_soon(lambda: bridge.to_trio(done.set))
            with trio.fail_after(5):
                await done.wait()
            with trio.move_on_after(0.05):
                await bridge.run(asyncio.sleep, 60)  # cancelling trio cancels the asyncio task
            tasks = await bridge.run(_other_tasks)
            assert tasks == 0
            results = []
            async with trio.open_nursery() as nursery:
                for i in range(200):
                    nursery.start_soon(lambda i=i: _collect(bridge, results, i))
            assert sorted(results) == list(range(200))

    trio.run(main)


async def _thread_name() -> str:
    import threading

    return threading.current_thread().name


async def _add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


async def _fail() -> None:
    raise ValueError("boom")


async def _other_tasks() -> int:
    await asyncio.sleep(0)
    return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])


async def _collect(bridge: AsyncioBridge, results: list, i: int) -> None:
    results.append(await bridge.run(_add, i, 0))

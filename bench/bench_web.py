"""Web stage figures: delivered fps per resolution / engine during continuous animation,
command-to-photon latency, CPU per added viewer, command round-trip while 4 viewers stream."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness import StageProcess
from test_web_stream import MOVED, Page, change, open_page, pixel, run

from protocols import CameraParams, CreateNode, GetNode, Transform

FPS_SECONDS = 4.0
LATENCY_SAMPLES = 20


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / 100.0
    return total


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def _delivered_fps(bridge, nursery, server, width, height, engine, samples) -> tuple[float, float]:
    """Pictures rendered per second for a page while the scene plays (capped by the scene's fps, 24)."""
    page = await open_page(nursery, bridge, server)
    await page.start({"camera": "CamA", "width": width, "height": height, "engine": engine,
                      "samples": samples, "play": True})  # fmt: skip
    await page.frame_after(0)
    await page.wait_for(lambda: len(page.stats) >= 2, timeout=60)
    page.stats.clear()
    await page.wait_for(lambda: len(page.stats) >= FPS_SECONDS, timeout=60)
    rendered = statistics.mean(s["fps"] for s in page.stats)
    render_ms = statistics.median(s["render_ms"] for s in page.stats)
    await page.close()
    return rendered, render_ms


async def _photon_latency(bridge, nursery, server) -> list[float]:
    page = await open_page(nursery, bridge, server)
    await page.start({"camera": "TopCam", "width": 320, "height": 180})
    await page.frame_after(30)
    samples = []
    for i in range(LATENCY_SAMPLES):
        x = -2.0 if i % 2 else 2.0
        before = await page.frame_after(page.frames + 2)
        started = time.perf_counter()
        reply = await page.request(
            "command", {"type": "set_transform", "node": "Crate", "location": [x, 0.2, 0.3]}
        )
        assert reply["ok"]
        await page.frame_after(page.frames, lambda rgb, x=x, b=before: change(b, rgb, pixel(x, 0.2)) > MOVED)
        samples.append((time.perf_counter() - started) * 1000)
    await page.close()
    return samples


def _round_trip_ms(server, count=200) -> float:
    with server.client() as client:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            client.request(GetNode(node="Crate"))
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _streaming_viewers(bridge, nursery, server, count) -> list[Page]:
    pages = []
    for _ in range(count):
        page = await open_page(nursery, bridge, server)
        await page.start({"camera": "CamA", "width": 320, "height": 180, "play": True})
        await page.frame_after(0)
        pages.append(page)
    return pages


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        server = StageProcess(Path(data), "--web-port", "0", "--render-workers", "1").start()
        try:
            with server.client() as client:
                camera = CameraParams(lens=35.0, sensor_width=36.0, sensor_fit="horizontal")
                top = Transform(location=(0, 0, 20.0))
                client.apply(CreateNode(kind="camera", name="TopCam", transform=top, camera=camera))
            print(f"cpu_cores: {len(os.sched_getaffinity(0))} cores")

            async def bench(bridge, nursery):
                for engine, samples in (("workbench", 1), ("cycles", 1)):
                    for width, height in ((320, 180), (640, 360), (1280, 720)):
                        fps, render_ms = await _delivered_fps(
                            bridge, nursery, server, width, height, engine, samples
                        )
                        print(f"fps_{engine}_{width}x{height}: {fps:.1f} fps")
                        print(f"render_p50_{engine}_{width}x{height}: {render_ms:.0f} ms")
                latency = await _photon_latency(bridge, nursery, server)
                print(f"command_to_photon_p50: {np.percentile(latency, 50):.0f} ms")
                print(f"command_to_photon_p99: {np.percentile(latency, 99):.0f} ms")
                idle = _round_trip_ms(server)
                pids = [server.process.pid, *_children(server.process.pid)]
                cpu = []
                pages = []
                for _ in range(4):
                    pages += await _streaming_viewers(bridge, nursery, server, 1)
                    start_cpu, start = _cpu_seconds(pids), time.perf_counter()
                    await trio.sleep(2.0)  # measuring CPU over a fixed window
                    cpu.append((_cpu_seconds(pids) - start_cpu) / (time.perf_counter() - start) * 100)
                busy = await trio.to_thread.run_sync(_round_trip_ms, server)
                per_viewer = (cpu[-1] - cpu[0]) / 3
                print(f"cpu_with_1_viewer_server_and_workers: {cpu[0]:.0f} %core")
                print(f"cpu_per_added_viewer: {per_viewer:.0f} %core")
                print(f"command_round_trip_idle_p50: {idle:.2f} ms")
                print(f"command_round_trip_4_viewers_p50: {busy:.2f} ms")
                for page in pages:
                    await page.close()

            run(bench)
        finally:
            server.stop()


if __name__ == "__main__":
    main()

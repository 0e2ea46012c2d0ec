"""Blender add-on sync: convergence latency between two Blenders, and transform throughput.

Two real ``bpy`` processes with the built extension, one real stage server. Prints
``name: value unit`` lines. Latency is measured by this process around the driver calls
(move + tick in Blender A, tick until seen in Blender B), so it includes two pipe round trips.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "blender_addon"))

import build  # noqa: E402
from addon_driver import Driver  # noqa: E402
from harness import StageProcess  # noqa: E402

from protocols import Batch, CreateNode  # noqa: E402

CHANGES = 200
OBJECTS = 100
ROUNDS = 100  # OBJECTS × ROUNDS = 10,000 transform changes


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-addon-") as tmp:
        tmp = Path(tmp)
        zip_path = build.build(tmp / "dist", ROOT / "dist" / "wheels")
        stage = StageProcess(tmp / "stage", "--empty").start()
        a, b = Driver(tmp / "a"), Driver(tmp / "b")
        script = stage.client()
        try:
            names = [f"Prop{k:03d}" for k in range(OBJECTS)]
            creates = tuple(CreateNode(kind="empty", name=n) for n in names)
            script.apply(Batch(commands=creates))
            for driver in (a, b):
                driver.call("install", zip=str(zip_path))
                driver.call("connect", endpoint=stage.commands)

            latencies = []
            for i in range(CHANGES):
                location = [float(i), 0.5, 0.0]
                start = time.perf_counter()
                a.call("move", name="Prop000", location=location, tick=True)
                b.call("tick_until", cond={"name": "Prop000", "location": location})
                latencies.append(time.perf_counter() - start)
            ms = np.array(latencies) * 1000
            print(f"addon_convergence_p50: {np.percentile(ms, 50):.2f} ms")
            print(f"addon_convergence_p99: {np.percentile(ms, 99):.2f} ms")

            start = time.perf_counter()
            sent = a.call("stream", names=names, rounds=ROUNDS)["seconds"]
            final = {n: [float(ROUNDS - 1), float(k), 0.0] for k, n in enumerate(names)}
            b.call("wait_locations", locations=final)
            total = time.perf_counter() - start
            changes = OBJECTS * ROUNDS
            print(f"addon_stream_send_{changes}: {sent:.2f} s")
            print(f"addon_stream_converged_{changes}: {total:.2f} s")
            print(f"addon_stream_throughput: {changes / total:.0f} changes/s")
        finally:
            script.close()
            a.close()
            b.close()
            stage.kill()


if __name__ == "__main__":
    main()

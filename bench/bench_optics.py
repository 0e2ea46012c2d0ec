"""Cost of the optics functions: one camera's readout, and the circle of confusion over a depth map.

    python bench/bench_optics.py [--repeat N]

Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from optics import coc_diameter_mm, optics_readout


def readout_us(calls: int) -> float:
    """Mean µs per ``optics_readout`` of a 50 mm f/2.8 on full frame focused at 3 m."""
    start = time.perf_counter()
    for _ in range(calls):
        optics_readout(50.0, 2.8, 0.029, 3.0, 36.0, 24.0)
    return (time.perf_counter() - start) / calls * 1e6


def coc_map_ms(repeat: int) -> float:
    """Best ms of the CoC over a 1280×720 float32 depth map (0.5–50 m), best of ``repeat``."""
    depth = np.random.default_rng(0).uniform(0.5, 50.0, (720, 1280)).astype(np.float32)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        coc_diameter_mm(50.0, 2.8, 3.0, depth)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="depth-map runs (best is reported)")
    args = parser.parse_args()
    print(f"optics_readout_per_call: {readout_us(20_000):.1f} us")
    print(f"coc_map_1280x720: {coc_map_ms(args.repeat):.2f} ms")


if __name__ == "__main__":
    main()

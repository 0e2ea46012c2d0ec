"""Decode what Blender writes to /dev/shm into numpy, without a decoder library.

Only the layouts the renderer asks for: 24-bit uncompressed BMP, and 32-bit-float uncompressed
scanline OpenEXR (depth: one channel; colour: R, G, B). Anything else raises ``ValueError``.
"""

from __future__ import annotations

import struct

import numpy as np

EXR_MAGIC = b"\x76\x2f\x31\x01"
_EXR_FLOAT = 2
_EXR_NO_COMPRESSION = 0


def read_bmp(raw: bytes) -> np.ndarray:
    """A 24-bit BMP file -> RGB uint8 H×W×3, top row first."""
    if raw[:2] != b"BM" or len(raw) < 54:
        raise ValueError("not a BMP file")
    offset, _, width, height, _, bits, compression = struct.unpack_from("<IIiiHHI", raw, 10)
    if bits != 24 or compression != 0:
        raise ValueError(f"BMP is {bits}-bit with compression {compression}; expected 24-bit uncompressed")
    rows = abs(height)
    stride = (width * 3 + 3) // 4 * 4
    pixels = np.frombuffer(raw, np.uint8, count=stride * rows, offset=offset).reshape(rows, stride)
    bgr = pixels[:, : width * 3].reshape(rows, width, 3)
    if height > 0:  # bottom-up rows
        bgr = bgr[::-1]
    return np.ascontiguousarray(bgr[..., ::-1])


def read_exr_depth(raw: bytes) -> np.ndarray:
    """A one-channel float32 uncompressed scanline EXR -> float32 H×W, top row first."""
    channels = read_exr(raw)
    if len(channels) != 1:
        raise ValueError(f"EXR holds {len(channels)} channels; expected one")
    return next(iter(channels.values()))


def read_exr_rgb(raw: bytes) -> np.ndarray:
    """An uncompressed scanline EXR with float32 R, G, B (and maybe A) -> float32 H×W×3, top row first."""
    channels = read_exr(raw)
    if not {"R", "G", "B"} <= channels.keys():
        raise ValueError(f"EXR holds channels {sorted(channels)}; expected R, G and B")
    return np.stack([channels["R"], channels["G"], channels["B"]], axis=-1)


def read_exr(raw: bytes) -> dict[str, np.ndarray]:
    """An uncompressed scanline EXR of float32 channels -> channel name: float32 H×W, top row first."""
    if raw[:4] != EXR_MAGIC:
        raise ValueError("not an OpenEXR file")
    header, pos = _exr_header(raw)
    if header.get("compression") != bytes([_EXR_NO_COMPRESSION]):
        raise ValueError("EXR is compressed; expected compression NONE")
    names = _exr_float_channels(header.get("channels", b""))
    x0, y0, x1, y1 = struct.unpack("<4i", header["dataWindow"])
    width, height = x1 - x0 + 1, y1 - y0 + 1
    first_block = pos + 8 * height  # after the line offset table: one block per scanline
    blocks = np.frombuffer(
        raw,
        dtype=np.dtype([("y", "<i4"), ("size", "<i4"), ("values", "<f4", (len(names), width))]),
        count=height,
        offset=first_block,
    )
    if np.any(blocks["size"] != len(names) * width * 4) or np.any(blocks["y"] != np.arange(y0, y1 + 1)):
        raise ValueError("EXR scanlines are not stored one per block in increasing order")
    return {name: blocks["values"][:, i].copy() for i, name in enumerate(names)}


def _exr_float_channels(channels: bytes) -> list[str]:
    """The names in an EXR channel list (stored sorted by name, each one's samples a block), all float32."""
    names: list[str] = []
    pos = 0
    while pos < len(channels) and channels[pos] != 0:
        name_end = channels.index(b"\0", pos)
        if struct.unpack_from("<i", channels, name_end + 1)[0] != _EXR_FLOAT:
            raise ValueError("EXR channel is not 32-bit float")
        names.append(channels[pos:name_end].decode())
        pos = name_end + 17  # name, NUL, pixel type, linear + 3 reserved, x and y sampling
    if not names:
        raise ValueError("EXR holds no channels")
    return names


def _exr_header(raw: bytes) -> tuple[dict[str, bytes], int]:
    """Attribute name -> raw value, and the offset just past the header."""
    header: dict[str, bytes] = {}
    pos = 8  # magic + version
    while raw[pos] != 0:
        name_end = raw.index(b"\0", pos)
        type_end = raw.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", raw, type_end + 1)
        start = type_end + 5
        header[raw[pos:name_end].decode()] = raw[start : start + size]
        pos = start + size
    return header, pos + 1

"""Depth-aware bokeh: defocus an all-in-focus frame from its depth and a per-pixel circle of confusion.

Layered gather (pure numpy): pixels are split into layers that are contiguous in depth and share a
blur size; each layer's premultiplied colour and coverage are convolved (FFT) with the aperture
kernel scaled to the layer's circle of confusion, and the layers are composited far → near with
"over". A blurred foreground therefore spills over what lies behind it, while a sharp foreground
keeps its edge: the background layer never draws over it. Where the layers behind are occluded they
have no colour: before a blurred layer goes over them their holes are filled from the surroundings
(pull-push), so a blurred foreground turns translucent onto plausible background, not onto black.
Large blurs run on a coarser grid (the kernel stays 8–16 px there) and are upsampled bilinearly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from optics import blur_px, coc_diameter_mm
from protocols import InvalidArgument

REFERENCE_PX = 256  # side of a kernel's stored mask
_SUPERSAMPLE = 4  # samples per axis and pixel when drawing or scaling a mask
_SHARP_PX = 0.5  # a CoC below this is left sharp
_LINEAR_LEVELS_PX = 8.0  # CoC quantised in 1 px steps below this, in 1/8-octave-ish steps above
_COARSE_KERNEL_PX = 8.0  # a blur of ≥ 2× this runs on a grid 2^k coarser
_MAX_LAYERS = 96
_ENCODE_LUT_SIZE = 16_384


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class BokehKernel:
    """An aperture shape: ``mask`` is a square float64 S×S image, non-negative, summing to 1.

    The mask's side stands for the blur diameter: scaled to a CoC of D pixels it spans D×D pixels.
    """

    mask: np.ndarray
    name: str = "custom"

    def __post_init__(self) -> None:
        mask = self.mask
        if not isinstance(mask, np.ndarray) or mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
            raise InvalidArgument("a kernel mask must be a square 2-D numpy array", field="mask")
        if not np.all(np.isfinite(mask)) or mask.min() < 0 or not math.isclose(mask.sum(), 1.0):
            raise InvalidArgument("a kernel mask must be finite, non-negative and sum to 1", field="mask")

    @classmethod
    def disc(cls) -> BokehKernel:
        """A round aperture (wide open, or a lens with many curved blades)."""
        return cls(_draw(lambda x, y: x * x + y * y <= 0.25), "disc")

    @classmethod
    def polygon(cls, blades: int, rotation_rad: float = 0.0) -> BokehKernel:
        """An aperture of ``blades`` straight blades (3…16); one corner points up at rotation 0."""
        return cls(_draw(_inside_polygon(_corners(blades, rotation_rad))), f"polygon-{blades}")

    @classmethod
    def iris(cls, blades: int, rotation_rad: float = 0.0, squeeze: float = 1.0) -> BokehKernel:
        """A lens's aperture as its picture shows it: round (``blades`` under 3, as Blender takes
        it) or a ``blades``-sided polygon turned by ``rotation_rad``, and — behind an anamorphic
        lens of ``squeeze`` — ``squeeze`` times taller than wide (as Cycles draws ``aperture_ratio``)."""
        if not (math.isfinite(squeeze) and 1.0 <= squeeze <= 4.0):
            raise InvalidArgument(f"squeeze = {squeeze!r} is not in [1, 4]", field="squeeze")
        if blades < 3:
            inside = lambda x, y: x * x + y * y <= 0.25  # noqa: E731
            name = "disc"
        else:
            inside = _inside_polygon(_corners(blades, rotation_rad))
            name = f"polygon-{blades}"
        if squeeze == 1.0:
            return cls(_draw(inside), name)
        return cls(_draw(lambda x, y: inside(x * squeeze, y)), f"{name}-squeeze-{squeeze:g}")

    @classmethod
    def anamorphic_oval(cls, squeeze: float) -> BokehKernel:
        """An upright ellipse ``squeeze`` (1…4) times taller than wide, as an anamorphic lens draws."""
        if not (math.isfinite(squeeze) and 1.0 <= squeeze <= 4.0):
            raise InvalidArgument(f"squeeze = {squeeze!r} is not in [1, 4]", field="squeeze")
        return cls(_draw(lambda x, y: (x * squeeze) ** 2 + y * y <= 0.25), f"oval-{squeeze:g}")

    @classmethod
    def from_image(cls, mask: np.ndarray, name: str = "custom") -> BokehKernel:
        """A custom aperture from an image (H×W, non-negative, not all zero), row 0 at the top.

        The non-zero part is centred in a square whose side is its larger extent, and normalised.
        """
        mask = np.asarray(mask)
        if mask.ndim != 2 or mask.size == 0:
            raise InvalidArgument(f"a kernel image must be 2-D and non-empty, got {mask.shape}", field="mask")
        if not np.issubdtype(mask.dtype, np.number) or np.issubdtype(mask.dtype, np.complexfloating):
            raise InvalidArgument(f"a kernel image must be real numbers, got {mask.dtype}", field="mask")
        mask = mask.astype(np.float64)
        if not np.all(np.isfinite(mask)) or mask.min() < 0:
            raise InvalidArgument("a kernel image must be finite and non-negative", field="mask")
        rows, cols = np.nonzero(mask)
        if rows.size == 0:
            raise InvalidArgument("a kernel image must have a non-zero pixel", field="mask")
        mask = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        side = max(mask.shape)
        square = np.zeros((side, side))
        top, left = (side - mask.shape[0]) // 2, (side - mask.shape[1]) // 2
        square[top : top + mask.shape[0], left : left + mask.shape[1]] = mask
        return cls(square / square.sum(), name)

    def raster(self, diameter_px: float) -> np.ndarray:
        """The mask area-resampled to ``diameter_px``: odd N×N float64 summing to 1, centred."""
        half = math.ceil(diameter_px / 2 + 0.5)
        side = self.mask.shape[0]
        offsets = (np.arange(-half * _SUPERSAMPLE, (half + 1) * _SUPERSAMPLE) + 0.5) / _SUPERSAMPLE - 0.5
        coords = (offsets / diameter_px + 0.5) * side - 0.5  # sample positions in mask pixels
        lo = np.floor(coords).astype(int)
        t = coords - lo
        valid0, valid1 = (lo >= 0) & (lo < side), (lo + 1 >= 0) & (lo + 1 < side)
        # Bilinear weights as a (samples × mask pixels) matrix per axis: raster = Wy · mask · Wxᵀ.
        weights = np.zeros((coords.size, side))
        idx = np.arange(coords.size)
        weights[idx[valid0], lo[valid0]] += (1 - t)[valid0]
        weights[idx[valid1], lo[valid1] + 1] += t[valid1]
        pooled = weights.reshape(2 * half + 1, _SUPERSAMPLE, side).sum(axis=1)
        kernel = pooled @ self.mask @ pooled.T
        return kernel / kernel.sum()


def heart() -> np.ndarray:
    """A heart-shaped kernel image (REFERENCE_PX², float64 coverage): two lobes up, point down."""

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = 2.3 * x, 2.3 * y + 0.1  # the curve (u² + v² − 1)³ = u²v³ fits in |u|, |v| ≤ 1.15
        return (u * u + v * v - 1) ** 3 - u * u * v**3 <= 0

    return _draw(inside)


def star(points: int = 5) -> np.ndarray:
    """A ``points``-pointed star kernel image (3…16 points, one up), REFERENCE_PX² float64."""
    if isinstance(points, bool) or not isinstance(points, int) or not 3 <= points <= 16:
        raise InvalidArgument(f"points = {points!r} is not an integer in 3..16", field="points")
    angles = math.pi / 2 + math.pi * np.arange(2 * points) / points
    radii = np.where(np.arange(2 * points) % 2 == 0, 0.5, 0.2)
    return _draw(_inside_polygon(np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)))


def _draw(inside: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Coverage of a shape on the square [−½, ½]² (y up) as a REFERENCE_PX² image, row 0 at the top."""
    n = REFERENCE_PX * _SUPERSAMPLE
    centres = (np.arange(n) + 0.5) / n - 0.5
    x, y = np.meshgrid(centres, -centres)
    hits = inside(x, y).astype(np.float64)
    coverage = hits.reshape(REFERENCE_PX, _SUPERSAMPLE, REFERENCE_PX, _SUPERSAMPLE).mean(axis=(1, 3))
    return coverage / coverage.sum()


def _corners(blades: int, rotation_rad: float) -> np.ndarray:
    """A regular ``blades``-gon's corners on the circle of radius ½, one up at rotation 0 (K×2)."""
    if isinstance(blades, bool) or not isinstance(blades, int) or not 3 <= blades <= 16:
        raise InvalidArgument(f"blades = {blades!r} is not an integer in 3..16", field="blades")
    if not math.isfinite(rotation_rad):
        raise InvalidArgument(f"rotation_rad = {rotation_rad!r} is not finite", field="rotation_rad")
    angles = rotation_rad + math.pi / 2 + 2 * math.pi * np.arange(blades) / blades
    return 0.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _inside_polygon(corners: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Even-odd point-in-polygon test for K×2 ``corners``."""

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = np.zeros(x.shape, dtype=bool)
        for (x0, y0), (x1, y1) in zip(corners, np.roll(corners, -1, axis=0), strict=True):
            crosses = (y0 > y) != (y1 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            result ^= crosses & (x < x_at)
        return result

    return inside


def defocus(rgb: np.ndarray, depth_m: np.ndarray, coc_px: np.ndarray, kernel: BokehKernel) -> np.ndarray:
    """Defocus an all-in-focus frame.

    ``rgb`` H×W×3: uint8 (sRGB-encoded, blurred in linear light) or float (linear, any range);
    ``depth_m`` H×W metres along the view axis, ``inf`` for background; ``coc_px`` H×W blur-disc
    DIAMETER in pixels (≥ 0; clamped to twice the frame's larger side). Returns H×W×3 of ``rgb``'s
    dtype. Renderers anti-alias colour but not depth, so each pixel first takes the nearest depth
    (and its CoC) in its 3×3 neighbourhood: edge pixels that mix a foreground in go with it.
    """
    if not isinstance(kernel, BokehKernel):
        raise InvalidArgument(f"kernel must be a BokehKernel, got {type(kernel).__name__}", field="kernel")
    linear = _to_linear(rgb)
    height, width = linear.shape[1:]
    depth = _plane("depth_m", depth_m, (height, width))
    coc = _plane("coc_px", coc_px, (height, width))
    if np.isnan(depth).any() or (depth <= 0).any():
        raise InvalidArgument("depth_m must be > 0 metres (inf for background), with no NaN", field="depth_m")
    if not np.all(np.isfinite(coc)) or (coc < 0).any():
        raise InvalidArgument("coc_px must be finite and ≥ 0 pixels", field="coc_px")
    depth, coc = _nearest_of_neighbours(depth, np.minimum(coc, 2.0 * max(height, width)))
    # The scene goes on past the frame: extend it by the widest blur's radius, so a blurred layer
    # at the border is as dense as inside (zero padding let what lies behind show through there).
    margin = min(math.ceil(float(coc.max()) / 2) + 1, max(height, width))
    linear = np.pad(linear, ((0, 0), (margin, margin), (margin, margin)), mode="edge")
    depth, coc = (np.pad(a, margin, mode="edge") for a in (depth, coc))
    full_height, full_width = height + 2 * margin, width + 2 * margin

    layer_of, layer_count = _layers(depth, coc)
    layer_coc = np.bincount(layer_of.ravel(), coc.ravel(), layer_count) / np.bincount(
        layer_of.ravel(), minlength=layer_count
    )
    rows = _presence(layer_of, layer_count, axis=1)
    cols = _presence(layer_of, layer_count, axis=0)
    acc = np.zeros((4, full_height, full_width), np.float32)
    for layer in range(layer_count - 1, -1, -1):  # far → near
        y = np.flatnonzero(rows[layer])
        x = np.flatnonzero(cols[layer])
        box = (y[0], y[-1] + 1, x[0], x[-1] + 1)
        _composite_layer(acc, linear, layer_of, layer, box, float(layer_coc[layer]), kernel)

    covered = acc[3] > 1e-6
    out = np.where(covered, acc[:3] / np.where(covered, acc[3], 1.0), linear)
    inside = np.s_[:, margin : margin + height, margin : margin + width]
    return _from_linear(out[inside].transpose(1, 2, 0), rgb.dtype)


def defocus_frame(
    frame, focal_mm: float, fstop: float, focus_m: float, picture_width_mm: float, kernel: BokehKernel
) -> np.ndarray:
    """Defocus a rendered ``Frame`` (which must carry depth) as a thin lens would.

    Its scene-linear colour when it has it (H×W×3 float32, highlights unclipped, so they bloom
    into the iris at their full energy), else its display colour (H×W×3 uint8).
    ``picture_width_mm``: the sensor width the picture's width spans, desqueezed.
    """
    if frame.depth is None:
        raise InvalidArgument("the frame has no depth: render it with depth=True", field="frame.depth")
    colour = frame.linear if frame.linear is not None else frame.rgb
    # The thin-lens disc lies on a sensor v = f·s/(s − f) behind the lens; Blender draws the picture
    # at the pinhole scale f, so relative to the picture the disc is (s − f)/s of it, as Cycles draws.
    picture_scale = 1.0 - focal_mm / 1000.0 / focus_m
    coc_mm = coc_diameter_mm(focal_mm, fstop, focus_m, frame.depth) * picture_scale
    coc = blur_px(coc_mm, picture_width_mm, colour.shape[1])
    return defocus(colour, frame.depth, coc, kernel)


def _plane(name: str, value: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != shape:
        raise InvalidArgument(f"{name} has shape {array.shape}, the frame is {shape}", field=name)
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise InvalidArgument(f"{name} must hold real numbers, got {array.dtype}", field=name)
    return array.astype(np.float64)


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 → 3×H×W float32 linear light."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        shape = getattr(rgb, "shape", type(rgb).__name__)
        raise InvalidArgument(f"rgb must be an H×W×3 array, got {shape}", field="rgb")
    if rgb.dtype == np.uint8:
        codes = np.arange(256) / 255.0
        lut = np.where(codes <= 0.04045, codes / 12.92, ((codes + 0.055) / 1.055) ** 2.4)
        return lut.astype(np.float32)[rgb.transpose(2, 0, 1)]
    if not np.issubdtype(rgb.dtype, np.floating):
        raise InvalidArgument(f"rgb must be uint8 or float, got {rgb.dtype}", field="rgb")
    if not np.all(np.isfinite(rgb)):
        raise InvalidArgument("rgb has NaN or infinite values", field="rgb")
    return rgb.transpose(2, 0, 1).astype(np.float32)


def _from_linear(linear: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype != np.uint8:
        return linear.astype(dtype)
    levels = np.linspace(0.0, 1.0, _ENCODE_LUT_SIZE)
    encoded = np.where(levels <= 0.0031308, 12.92 * levels, 1.055 * levels ** (1 / 2.4) - 0.055)
    lut = np.round(encoded * 255).astype(np.uint8)
    index = np.clip(linear, 0.0, 1.0) * (_ENCODE_LUT_SIZE - 1) + 0.5
    return lut[index.astype(np.intp)]


def _nearest_of_neighbours(depth: np.ndarray, coc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the smallest depth in its 3×3 neighbourhood and that neighbour's CoC."""
    padded_depth = np.pad(depth, 1, constant_values=np.inf)
    padded_coc = np.pad(coc, 1)
    height, width = depth.shape
    best_depth, best_coc = depth.copy(), coc.copy()
    for dy in range(3):
        for dx in range(3):
            d = padded_depth[dy : dy + height, dx : dx + width]
            nearer = d < best_depth
            best_depth = np.where(nearer, d, best_depth)
            best_coc = np.where(nearer, padded_coc[dy : dy + height, dx : dx + width], best_coc)
    return best_depth, best_coc


def _level(coc: np.ndarray) -> np.ndarray:
    """Blur-size class: 0 sharp; 1 px steps up to 8 px, then steps of 1/8 of the size."""
    smooth = np.where(
        coc <= _LINEAR_LEVELS_PX,
        coc,
        _LINEAR_LEVELS_PX * (1 + np.log(np.maximum(coc, _LINEAR_LEVELS_PX) / _LINEAR_LEVELS_PX)),
    )
    return np.where(coc < _SHARP_PX, 0, np.maximum(np.round(smooth), 1)).astype(np.intp)


def _layers(depth: np.ndarray, coc: np.ndarray) -> tuple[np.ndarray, int]:
    """H×W layer index (0 = nearest) and the layer count.

    Pixels are binned by log depth; bins in depth order form runs of equal blur class and each run
    is a layer. If a CoC map that does not follow depth makes too many runs, the bins coarsen.
    """
    level = _level(coc)
    levels = int(level.max()) + 1
    finite = np.isfinite(depth)
    log_depth = np.log(np.where(finite, depth, 1.0))
    lo, hi = (log_depth[finite].min(), log_depth[finite].max()) if finite.any() else (0.0, 0.0)
    for bins in (1024, 128, 16, 1):
        scaled = np.floor((log_depth - lo) / max(hi - lo, 1e-12) * bins)
        depth_bin = np.where(finite, np.clip(scaled, 0, bins - 1), bins).astype(np.intp)
        key = depth_bin * levels + level
        keys = np.flatnonzero(np.bincount(key.ravel(), minlength=(bins + 1) * levels))
        starts = np.concatenate([[True], np.diff(keys % levels) != 0])
        if starts.sum() <= _MAX_LAYERS:
            break
    lut = np.zeros((bins + 1) * levels, np.intp)
    lut[keys] = np.cumsum(starts) - 1
    return lut[key], int(starts.sum())


def _presence(layer_of: np.ndarray, count: int, axis: int) -> np.ndarray:
    """count×H (axis 1) or count×W (axis 0) booleans: does the layer occur in that row / column."""
    present = np.zeros((count, layer_of.shape[1 - axis]), bool)
    index = np.indices(layer_of.shape)[1 - axis]
    present[layer_of, index] = True
    return present


def _composite_layer(
    acc: np.ndarray,
    linear: np.ndarray,
    layer_of: np.ndarray,
    layer: int,
    box: tuple[int, int, int, int],
    coc: float,
    kernel: BokehKernel,
) -> None:
    """Blur one layer (premultiplied colour + coverage) and lay it over ``acc`` (4×H×W) in place."""
    y0, y1, x0, x1 = box
    if coc < _SHARP_PX:
        mask = layer_of[y0:y1, x0:x1] == layer
        acc[:3, y0:y1, x0:x1][:, mask] = linear[:, y0:y1, x0:x1][:, mask]
        acc[3, y0:y1, x0:x1][mask] = 1.0
        return
    step = 1 << max(0, math.floor(math.log2(coc / _COARSE_KERNEL_PX)))
    y1, x1 = y0 + -(-(y1 - y0) // step) * step, x0 + -(-(x1 - x0) // step) * step  # whole blocks
    height, width = acc.shape[1:]
    source = np.zeros((4, y1 - y0, x1 - x0), np.float32)
    inside_y, inside_x = min(y1, height) - y0, min(x1, width) - x0
    mask = layer_of[y0 : y0 + inside_y, x0 : x0 + inside_x] == layer
    source[:3, :inside_y, :inside_x] = linear[:, y0 : y0 + inside_y, x0 : x0 + inside_x] * mask
    source[3, :inside_y, :inside_x] = mask
    coarse = source.reshape(4, (y1 - y0) // step, step, (x1 - x0) // step, step).mean(axis=(2, 4))
    taps = kernel.raster(coc / step)
    blurred = _convolve_full(coarse, taps)
    half = taps.shape[0] // 2
    # Coarse pixel i of ``blurred`` is centred on fine coordinate y0 + (i − half + ½)·step − ½.
    oy0, oy1 = max(0, y0 - half * step), min(height, y1 + half * step)
    ox0, ox1 = max(0, x0 - half * step), min(width, x1 + half * step)
    ys = _sample_positions(oy0, oy1, y0 - half * step, step, blurred.shape[1])
    xs = _sample_positions(ox0, ox1, x0 - half * step, step, blurred.shape[2])
    layer_rgba = _bilinear(_bilinear(blurred, ys, axis=1), xs, axis=2)
    target = acc[:, oy0:oy1, ox0:ox1]
    if target[3].max() > 0:  # what lies behind: fill its holes (where nearer pixels sit) first
        target[:] = _pull_push(target)
    target *= 1.0 - layer_rgba[3]
    target += layer_rgba


def _pull_push(rgba: np.ndarray) -> np.ndarray:
    """Fill the uncovered parts of a premultiplied 4×h×w image from its surroundings (alpha → 1)."""
    alpha = rgba[3]
    if min(alpha.shape) <= 1:
        return rgba / np.maximum(alpha, 1e-12) * (alpha > 0)
    height, width = alpha.shape
    even = np.pad(rgba, ((0, 0), (0, height % 2), (0, width % 2)))
    coarse = even.reshape(4, even.shape[1] // 2, 2, even.shape[2] // 2, 2).mean(axis=(2, 4))
    behind = _pull_push(coarse).repeat(2, axis=1).repeat(2, axis=2)[:, :height, :width]
    return rgba + (1.0 - alpha) * behind


def _sample_positions(start: int, stop: int, origin: int, step: int, size: int) -> np.ndarray:
    """Coarse-grid coordinates of fine pixels start…stop−1 (grid origin at fine ``origin``)."""
    return np.clip((np.arange(start, stop) - origin + 0.5) / step - 0.5, 0, size - 1)


def _bilinear(array: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    lo = np.floor(coords).astype(np.intp)
    hi = np.minimum(lo + 1, array.shape[axis] - 1)
    t = (coords - lo).astype(np.float32)
    shape = [1] * array.ndim
    shape[axis] = t.size
    t = t.reshape(shape)
    return np.take(array, lo, axis=axis) * (1 - t) + np.take(array, hi, axis=axis) * t


def _convolve_full(planes: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Full linear convolution of C×h×w ``planes`` with an n×n kernel → C×(h+n−1)×(w+n−1) float32."""
    out_h, out_w = planes.shape[1] + taps.shape[0] - 1, planes.shape[2] + taps.shape[1] - 1
    size = (_fast_length(out_h), _fast_length(out_w))
    spectrum = np.fft.rfft2(planes, size) * np.fft.rfft2(taps, size)
    return np.fft.irfft2(spectrum, size)[:, :out_h, :out_w].astype(np.float32)


def _fast_length(n: int) -> int:
    """The smallest 2·3·5-smooth number ≥ n (sizes pocketfft transforms fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            candidate = p35 * (1 << max(0, math.ceil(math.log2(n / p35))))
            best = min(best, candidate)
            p35 *= 3
        p5 *= 5
    return best

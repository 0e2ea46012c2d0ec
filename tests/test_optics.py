"""Thin-lens optics and the camera body / lens table.

Expected depth-of-field values are worked by hand from the thin-lens formulas (f focal length,
N f-number, c CoC, s focus distance; Ray, *Applied Photographic Optics* §6):
H = f²/(N·c) + f, near = s(H−f)/(H+s−2f), far = s(H−f)/(H−s), blur b = f²/(N(s−f))·|d−s|/d.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import optics
from optics import (
    SHOT_SIZES,
    blur_px,
    coc_diameter_mm,
    default_optics,
    depth_of_field_m,
    dof_limits_m,
    dolly_zoom_distance_m,
    field_of_view_rad,
    framing_distance_m,
    hyperfocal_m,
    optics_readout,
)
from protocols import InvalidArgument

# (focal mm, f-number, CoC mm, focus m) → (hyperfocal m, near m, far m)
PUBLISHED_DOF = [
    # Full frame 50 mm f/2.8, c 0.029, s 3 m:
    # H = 2500/(2.8·0.029) + 50 = 30 838 mm; near = 3·30.788/33.738; far = 3·30.788/27.838
    ((50.0, 2.8, 0.029, 3.0), (30.84, 2.738, 3.318)),
    # Full frame 85 mm f/1.4, c 0.029, s 2 m:
    # H = 7225/(1.4·0.029) + 85 = 178 041 mm; near = 2·177.956/179.871; far = 2·177.956/176.041
    ((85.0, 1.4, 0.029, 2.0), (178.0, 1.979, 2.022)),
    # Super 35 24 mm f/4, c 0.018, s 5 m:
    # H = 576/(4·0.018) + 24 = 8024 mm; near = 5·8.000/12.976; far = 5·8.000/3.024
    ((24.0, 4.0, 0.018, 5.0), (8.024, 3.083, 13.23)),
    # iPhone main 6.9 mm f/1.8, c 0.008, s 1 m:
    # H = 47.61/(1.8·0.008) + 6.9 = 3313.2 mm; near = 3.30625/4.29935; far = 3.30625/2.31315
    ((6.9, 1.8, 0.008, 1.0), (3.313, 0.7690, 1.429)),
]


@pytest.mark.parametrize(("args", "expected"), PUBLISHED_DOF)
def test_published_depth_of_field(args, expected) -> None:
    focal, fstop, coc, focus = args
    hyper, near, far = expected
    assert hyperfocal_m(focal, fstop, coc) == pytest.approx(hyper, rel=1e-3)
    assert dof_limits_m(focal, fstop, coc, focus) == pytest.approx((near, far), rel=1e-3)
    assert depth_of_field_m(focal, fstop, coc, focus) == pytest.approx(far - near, rel=2e-3)


def test_blur_is_zero_at_the_focus_plane_and_known_elsewhere() -> None:
    assert coc_diameter_mm(50, 2.8, 3.0, 3.0) == 0.0
    # b = 2500/(2.8·2950)·|d−3|/d: 0.3027 mm at infinity, 0.2119 mm at 10 m
    assert coc_diameter_mm(50, 2.8, 3.0, math.inf) == pytest.approx(0.3027, rel=1e-3)
    assert coc_diameter_mm(50, 2.8, 3.0, 10.0) == pytest.approx(0.2119, rel=1e-3)
    # 0.3027 mm across a 36 mm sensor rendered 1920 px wide = 16.14 px
    assert blur_px(0.30266, 36.0, 1920) == pytest.approx(16.14, rel=1e-3)
    assert coc_diameter_mm(50, 2.8, math.inf, math.inf) == 0.0


def test_coc_over_a_depth_map_broadcasts() -> None:
    depth = np.array([[1.0, 3.0], [10.0, np.inf]])
    coc = coc_diameter_mm(50, 2.8, 3.0, depth)
    assert coc.shape == (2, 2)
    assert coc[0, 1] == 0.0
    assert coc[1, 1] == pytest.approx(0.3027, rel=1e-3)
    assert blur_px(coc, 36.0, 1920).shape == (2, 2)


def test_sharpness_is_infinite_from_the_hyperfocal_on() -> None:
    hyper = hyperfocal_m(50, 2.8, 0.029)
    near, far = dof_limits_m(50, 2.8, 0.029, hyper)
    assert near == pytest.approx(hyper / 2)
    assert far == math.inf
    assert dof_limits_m(50, 2.8, 0.029, 2 * hyper)[1] == math.inf
    assert depth_of_field_m(50, 2.8, 0.029, hyper) == math.inf
    # focused at infinity the near limit is H − f
    assert dof_limits_m(50, 2.8, 0.029, math.inf)[0] == pytest.approx(hyper - 0.05)


def test_field_of_view_of_a_50mm_on_full_frame() -> None:
    fov = field_of_view_rad(50, 36, 24)
    # 2·atan(36/100), 2·atan(24/100), 2·atan(43.27/100)
    assert math.degrees(fov.horizontal) == pytest.approx(39.60, abs=0.01)
    assert math.degrees(fov.vertical) == pytest.approx(26.99, abs=0.01)
    assert math.degrees(fov.diagonal) == pytest.approx(46.79, abs=0.01)


def test_anamorphic_squeeze_doubles_the_horizontal_extent() -> None:
    spherical, anamorphic = field_of_view_rad(50, 36, 24), field_of_view_rad(50, 36, 24, squeeze=2.0)
    assert math.tan(anamorphic.horizontal / 2) == pytest.approx(2 * math.tan(spherical.horizontal / 2))
    assert anamorphic.vertical == spherical.vertical


def test_dolly_zoom_keeps_the_projected_size() -> None:
    subject = 1.8
    d1 = 3.0
    d2 = dolly_zoom_distance_m(d1, 35, 85)
    assert d2 == pytest.approx(3.0 * 85 / 35)
    assert 85 * subject / d2 == pytest.approx(35 * subject / d1)


def test_shot_sizes_move_out_from_extreme_close_up_to_wide() -> None:
    order = ["extreme_close_up", "close_up", "medium_close_up", "medium", "cowboy", "full", "wide"]
    assert list(SHOT_SIZES) == order
    distances = [framing_distance_m(1.8, shot, 50, 24) for shot in order]
    assert distances == sorted(distances)
    assert len(set(distances)) == len(distances)
    # full shot: 1.2·1.8 m framed on a 24 mm tall sensor by 50 mm → 50·2.16/24 = 4.5 m
    assert framing_distance_m(1.8, "full", 50, 24) == pytest.approx(4.5)


def test_readout_collects_the_numbers() -> None:
    readout = optics_readout(50, 2.8, 0.029, 3.0, 36, 24)
    assert (readout.near_m, readout.far_m) == pytest.approx((2.738, 3.318), rel=1e-3)
    assert readout.dof_m == pytest.approx(readout.far_m - readout.near_m)
    assert readout.hyperfocal_m == pytest.approx(30.84, rel=1e-3)
    assert readout.coc_mm == 0.029
    assert math.degrees(readout.fov.horizontal) == pytest.approx(39.60, abs=0.01)
    assert optics_readout(50, 2.8, 0.029, 100.0, 36, 24).dof_m == math.inf


@pytest.mark.parametrize(
    ("call", "field", "range_text"),
    [
        (lambda: hyperfocal_m(0, 2.8, 0.029), "focal_mm", "(0, inf) mm"),
        (lambda: hyperfocal_m(-50, 2.8, 0.029), "focal_mm", "(0, inf) mm"),
        (lambda: dof_limits_m(50, 0.5, 0.029, 3), "fstop", "[0.7, inf)"),
        (lambda: dof_limits_m(50, 2.8, 0.029, 0.04), "focus_m", "(0.05, inf] m"),
        (lambda: dof_limits_m(50, 2.8, 0.029, 0.05), "focus_m", "(0.05, inf] m"),
        (lambda: dof_limits_m(50, 2.8, 0.0, 3), "coc_mm", "(0, inf) mm"),
        (lambda: coc_diameter_mm(50, 2.8, 3, np.array([1.0, np.nan])), "distance_m", "(0, inf] m"),
        (lambda: coc_diameter_mm(50, 2.8, 3, -1.0), "distance_m", "(0, inf] m"),
        (lambda: field_of_view_rad(50, 36, 24, squeeze=0.5), "squeeze", "[1, inf)"),
        (lambda: blur_px(0.1, 0, 1920), "sensor_width_mm", "(0, inf) mm"),
        (lambda: dolly_zoom_distance_m(3, 0, 50), "focal_from_mm", "(0, inf) mm"),
        (lambda: framing_distance_m(1.8, "medium", "50", 24), "focal_mm", "number"),
        (lambda: framing_distance_m(1.8, "selfie", 50, 24), "shot_size", "extreme_close_up, close_up"),
    ],
)
def test_bad_input_names_the_field_and_its_range(call, field, range_text) -> None:
    with pytest.raises(InvalidArgument) as info:
        call()
    assert info.value.field == field
    assert field in str(info.value)
    assert range_text in str(info.value)


def test_readout_refuses_arrays() -> None:
    with pytest.raises(InvalidArgument, match="scalars"):
        optics_readout(np.array([35.0, 50.0]), 2.8, 0.029, 3.0, 36, 24)


@given(
    focal=st.floats(5, 200),
    fstop=st.floats(0.7, 32),
    coc=st.floats(0.005, 0.05),
    focus_over_focal=st.floats(1.5, 1e4),
)
def test_near_focus_far_are_ordered(focal, fstop, coc, focus_over_focal) -> None:
    focus = focal / 1000 * focus_over_focal
    near, far = dof_limits_m(focal, fstop, coc, focus)
    assert near <= focus * (1 + 1e-12)
    assert focus <= far * (1 + 1e-12)


@given(
    focus=st.floats(0.5, 50),
    offsets=st.lists(st.floats(0, 0.95), min_size=2, max_size=8, unique=True),
)
def test_coc_grows_with_the_defocus(focus, offsets) -> None:
    # behind the plane the blur grows with the distance; in front of it too, as d → 0
    behind = coc_diameter_mm(35, 2.0, focus, focus / (1 - np.sort(offsets)))
    in_front = coc_diameter_mm(35, 2.0, focus, focus * (1 - np.sort(offsets)))
    assert np.all(np.diff(behind) >= 0)
    assert np.all(np.diff(in_front) >= 0)


# --- the body / lens table ---

BODIES = {
    "full_frame": (36.0, 24.0),
    "super_35": (24.89, 18.66),
    "aps_c_canon": (22.3, 14.9),
    "aps_c_nikon_sony": (23.5, 15.6),
    "micro_four_thirds": (17.3, 13.0),
    "arri_alexa_35": (27.99, 19.22),
    "arri_alexa_mini_lf": (36.70, 25.54),
    "red_komodo_6k": (27.03, 14.26),
    "sony_fx3": (35.6, 23.8),
    "sony_venice_2": (36.2, 24.1),
    "blackmagic_pocket_6k": (23.10, 12.99),
    "iphone_15_pro_main": (9.8, 7.3),
}


def test_the_table_holds_the_bodies_and_each_coc_follows_its_rule() -> None:
    table = default_optics()
    assert table is default_optics()
    assert set(BODIES) <= set(table.bodies)
    for name, size in BODIES.items():
        body = table.body(name)
        assert (body.sensor_width_mm, body.sensor_height_mm) == size
        divisor = {"d/1500": 1500, "zeiss": 1730}[body.coc_rule]
        assert body.coc_mm == pytest.approx(math.hypot(*size) / divisor)
    # full frame's d/1500 is the classic 0.029 mm
    assert table.body("full_frame").coc_mm == pytest.approx(0.0288, abs=1e-4)


def test_the_table_holds_the_lens_sets() -> None:
    table = default_optics()
    for focal in (14, 18, 24, 28, 35, 50, 65, 85, 100, 135):
        lens = table.lens(f"prime_{focal}")
        assert (lens.focal_mm, lens.squeeze, lens.kind) == (focal, 1.0, "spherical")
    for squeeze, tag in ((2.0, "2x"), (1.33, "1_33x")):
        for focal in (40, 50, 75, 100):
            lens = table.lens(f"anamorphic_{tag}_{focal}")
            assert (lens.focal_mm, lens.squeeze, lens.kind) == (focal, squeeze, "anamorphic")


def test_unknown_names_list_the_known_ones() -> None:
    table = default_optics()
    with pytest.raises(InvalidArgument, match=r"unknown camera body 'red_one'.*arri_alexa_35") as info:
        table.body("red_one")
    assert info.value.field == "body"
    with pytest.raises(InvalidArgument, match=r"unknown lens 'prime_51'.*prime_50"):
        table.lens("prime_51")


def test_a_stage_overrides_and_extends_the_table() -> None:
    base = default_optics()
    table = base.with_overrides(
        {
            "bodies": {
                "arri_alexa_35": {"coc_mm": 0.025},
                "full_frame": {"coc_rule": "zeiss"},
                "vista": {"sensor_width_mm": 37.72, "sensor_height_mm": 24.92},
            },
            "lenses": {
                "prime_50": {"focal_mm": 47.5},
                "anamorphic_1_8x_60": {"focal_mm": 60, "squeeze": 1.8},
            },
        }
    )
    alexa = table.body("arri_alexa_35")
    assert (alexa.coc_mm, alexa.coc_rule, alexa.sensor_width_mm) == (0.025, "explicit", 27.99)
    assert table.body("full_frame").coc_mm == pytest.approx(math.hypot(36, 24) / 1730)
    assert table.body("vista").coc_mm == pytest.approx(math.hypot(37.72, 24.92) / 1500)
    assert table.lens("prime_50").focal_mm == 47.5
    assert table.lens("anamorphic_1_8x_60").kind == "anamorphic"
    # the packaged table is untouched
    assert base.body("arri_alexa_35").coc_rule == "zeiss"
    assert base.lens("prime_50").focal_mm == 50.0
    assert "vista" not in base.bodies


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"cameras": {}}, "optics.cameras"),
        ({"bodies": {"x": {"sensor_width_mm": 36}}}, "bodies.x.sensor_height_mm"),
        ({"bodies": {"full_frame": {"iso": 800}}}, "bodies.full_frame.iso"),
        ({"bodies": {"full_frame": {"coc_rule": "d/1000"}}}, "bodies.full_frame.coc_rule"),
        ({"bodies": {"full_frame": {"coc_mm": 0.03, "coc_rule": "zeiss"}}}, "bodies.full_frame"),
        ({"bodies": {"full_frame": {"sensor_width_mm": -1}}}, "sensor_width_mm"),
        ({"lenses": {"prime_50": {"kind": "anamorphic"}}}, "squeeze"),
        ({"lenses": {"odd": {"focal_mm": 50, "kind": "fisheye"}}}, "kind"),
    ],
)
def test_bad_overrides_name_the_key(data, field) -> None:
    with pytest.raises(InvalidArgument) as info:
        default_optics().with_overrides(data)
    assert info.value.field == field


def test_exports() -> None:
    for name in ("CameraBody", "Lens", "OpticsTable", "FieldOfView", "OpticsReadout", "default_optics"):
        assert name in optics.__all__

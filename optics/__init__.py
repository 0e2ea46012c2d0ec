"""The Optics Engine's data and math: camera bodies and lenses, and the thin-lens formulas.

Pure Python and numpy (no Blender): the scene library sets cameras with it, the renderers blur
with it, stage files extend its table, and any client may compute what a focus puller would.
"""

from ._bodies import COC_RULES, CameraBody, Lens, LensKind, OpticsTable, default_optics
from ._thin_lens import (
    MIN_FSTOP,
    SHOT_SIZES,
    FieldOfView,
    OpticsReadout,
    blur_px,
    coc_diameter_mm,
    depth_of_field_m,
    dof_limits_m,
    dolly_zoom_distance_m,
    field_of_view_rad,
    framing_distance_m,
    hyperfocal_m,
    image_distance_m,
    marked_distance_m,
    object_distance_m,
    optics_readout,
)

__all__ = [
    "COC_RULES",
    "MIN_FSTOP",
    "SHOT_SIZES",
    "CameraBody",
    "FieldOfView",
    "Lens",
    "LensKind",
    "OpticsReadout",
    "OpticsTable",
    "blur_px",
    "coc_diameter_mm",
    "default_optics",
    "depth_of_field_m",
    "dof_limits_m",
    "dolly_zoom_distance_m",
    "field_of_view_rad",
    "framing_distance_m",
    "hyperfocal_m",
    "image_distance_m",
    "marked_distance_m",
    "object_distance_m",
    "optics_readout",
]

"""The ``input`` data channel: one checked message moves a viewer's viewport camera."""

from __future__ import annotations

from typing import Any

from protocols import InvalidArgument, UnknownCommand

from . import _viewport
from ._page_json import numbers

MAX_AXES = 16
MAX_BUTTONS = 32
INPUTS = "orbit, pan, dolly, fly, gamepad"


def apply_input(view: _viewport.Viewport, message: dict[str, Any]) -> _viewport.Viewport:
    """``{"orbit": [dx, dy]}``, ``{"pan": [dx, dy]}``, ``{"dolly": d}``,
    ``{"fly": {"forward", "right", "up"}}`` or ``{"gamepad": {"axes", "buttons"}}`` applied to ``view``."""
    if len(message) != 1:
        raise InvalidArgument(f"an input message has exactly one of {INPUTS}")
    ((kind, value),) = message.items()
    if kind == "orbit":
        return _viewport.orbit(view, *numbers(value, 2, "orbit"))
    if kind == "pan":
        return _viewport.pan(view, *numbers(value, 2, "pan"))
    if kind == "dolly":
        return _viewport.dolly(view, *numbers(value, 1, "dolly"))
    if kind == "fly":
        if not isinstance(value, dict) or set(value) - {"forward", "right", "up"}:
            raise InvalidArgument("fly takes an object with forward, right, up", field="fly")
        axes = (numbers(value.get(k, 0), 1, f"fly.{k}")[0] for k in ("forward", "right", "up"))
        return _viewport.fly(view, *axes)
    if kind == "gamepad":
        if not isinstance(value, dict) or set(value) - {"axes", "buttons"}:
            raise InvalidArgument("gamepad takes an object with axes, buttons", field="gamepad")
        axes, buttons = value.get("axes", []), value.get("buttons", [])
        if not isinstance(axes, list) or len(axes) > MAX_AXES:
            raise InvalidArgument(f"gamepad.axes must be a list of at most {MAX_AXES}", field="gamepad.axes")
        if not isinstance(buttons, list) or len(buttons) > MAX_BUTTONS:
            raise InvalidArgument(
                f"gamepad.buttons must be a list of at most {MAX_BUTTONS}", field="gamepad.buttons"
            )
        return _viewport.gamepad(
            view,
            numbers(axes, len(axes), "gamepad.axes"),
            numbers(buttons, len(buttons), "gamepad.buttons"),
        )
    raise UnknownCommand(f"unknown input {kind!r}; one of {INPUTS}", field=kind)

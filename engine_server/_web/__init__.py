"""The web stage: the page, WebRTC video of the stage, and the render worker pool (docs/web-stage.md)."""

from ._service import web_companion

__all__ = ["web_companion"]

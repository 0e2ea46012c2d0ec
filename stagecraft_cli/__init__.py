"""The ``stagecraft`` command line: one module per command group."""

from ._main import main

__all__ = ["main"]

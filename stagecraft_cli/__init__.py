"""The ``stagecraft`` command line: one module per command group."""

from ._jobs import follow_job
from ._main import main

__all__ = ["follow_job", "main"]

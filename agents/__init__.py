"""Agents: processes that take jobs from a stage (``stagecraft agent KIND``), and their SDK.

The mocap agent lives in ``agents.mocap`` and loads only when asked for (it needs torch).
"""

from ._echo import echo
from ._sdk import Agent, Handler, JobCancelledError, JobContext, JobError

__all__ = ["Agent", "Handler", "JobCancelledError", "JobContext", "JobError", "echo"]

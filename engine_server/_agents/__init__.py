"""The stage's agents and jobs: a registry of connected agents and a durable job queue."""

from ._service import DEFAULT_HEARTBEAT_TIMEOUT, JobService

__all__ = ["DEFAULT_HEARTBEAT_TIMEOUT", "JobService"]

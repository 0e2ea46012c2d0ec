"""Which agents are connected: their connection, job kinds, capacity, last sign of life."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(slots=True)
class AgentRecord:
    """One registered agent, reached through its ROUTER ``identity``."""

    name: str
    identity: bytes
    delimiter: bool
    kinds: frozenset[str]
    max_jobs: int
    last_seen: float
    jobs: set[str] = dataclasses.field(default_factory=set)  # offered and not yet reported back

    @property
    def free(self) -> int:
        return self.max_jobs - len(self.jobs)


class AgentRegistry:
    """Agents by name and by connection; times are ``trio.current_time()``."""

    def __init__(self) -> None:
        self._by_name: dict[str, AgentRecord] = {}
        self._by_identity: dict[bytes, AgentRecord] = {}

    def add(self, record: AgentRecord) -> list[AgentRecord]:
        """Register ``record``; returns the records it replaces (same name or same connection)."""
        replaced = [
            old
            for old in (self._by_name.get(record.name), self._by_identity.get(record.identity))
            if old is not None
        ]
        for old in {id(r): r for r in replaced}.values():
            self.remove(old)
        self._by_name[record.name] = record
        self._by_identity[record.identity] = record
        return list({id(r): r for r in replaced}.values())

    def remove(self, record: AgentRecord) -> None:
        if self._by_name.get(record.name) is record:
            del self._by_name[record.name]
        if self._by_identity.get(record.identity) is record:
            del self._by_identity[record.identity]

    def by_identity(self, identity: bytes) -> AgentRecord | None:
        return self._by_identity.get(identity)

    def by_name(self, name: str) -> AgentRecord | None:
        return self._by_name.get(name)

    def silent_since(self, deadline: float) -> list[AgentRecord]:
        """Agents not heard from since ``deadline``."""
        return [r for r in self._by_name.values() if r.last_seen < deadline]

    def free_for(self, kind: str) -> AgentRecord | None:
        """The least busy agent that takes ``kind`` and has room for a job."""
        candidates = [r for r in self._by_name.values() if kind in r.kinds and r.free > 0]
        return min(candidates, key=lambda r: (len(r.jobs) / r.max_jobs, r.last_seen), default=None)

    def kinds_with_room(self) -> set[str]:
        """Every job kind some agent with room for a job takes."""
        return {kind for r in self._by_name.values() if r.free > 0 for kind in r.kinds}

    def has_room(self) -> bool:
        return any(r.free > 0 for r in self._by_name.values())

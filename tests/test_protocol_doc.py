"""docs/protocol.md agrees with the code: version, one section per message type, every field."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import protocols

DOC = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
TYPE_HEADING = re.compile(r"^### `([a-z_]+)`\s*$", re.MULTILINE)


def _sections() -> dict[str, str]:
    """Message type -> the text under its heading, up to the next heading of level 1–3."""
    sections = {}
    for match in TYPE_HEADING.finditer(DOC):
        end = re.compile(r"^#{1,3} ", re.MULTILINE).search(DOC, match.end())
        sections[match.group(1)] = DOC[match.end() : end.start() if end else len(DOC)]
    return sections


def test_documented_version_is_the_protocol_version():
    versions = re.findall(r"^Protocol version: \*\*(\d+)\*\*$", DOC, re.MULTILINE)
    assert versions == [str(protocols.PROTOCOL_VERSION)]


def test_every_message_type_has_exactly_one_section():
    headings = TYPE_HEADING.findall(DOC)
    assert len(headings) == len(set(headings)), "a message type is documented twice"
    assert set(headings) == set(protocols.registered_types())


def test_every_field_appears_in_its_section():
    sections = _sections()
    missing = [
        f"{type_name}.{field.name}"
        for type_name, cls in protocols.registered_types().items()
        for field in dataclasses.fields(cls)
        if f"`{field.name}`" not in sections[type_name]
    ]
    assert missing == []


def test_size_limits_in_the_doc_match_the_code():
    for name in ("MAX_HEADER_BYTES", "MAX_MESSAGE_BYTES", "MAX_FRAMES", "MAX_BATCH"):
        row = re.search(rf"^\| `{name}` \| ([\d ]+)", DOC, re.MULTILINE)
        assert row is not None, name
        assert int(row.group(1).replace(" ", "")) == getattr(protocols, name)


def test_every_error_code_is_documented():
    table = DOC[DOC.index("## Errors") : DOC.index("## Sequence numbers")]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))
    assert documented == {code.value for code in protocols.ErrorCode}

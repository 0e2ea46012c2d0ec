"""The one exception tree, and the stable error codes that travel on the wire.

StagecraftError
└── ProtocolError            carries an ErrorCode; becomes an ``error`` reply
    ├── BadMessage           bad_message: not msgpack, not an envelope, bad frames
    ├── UnknownCommand       unknown_command: a type this server does not know
    ├── InvalidArgument      invalid_argument: a field is missing, mistyped or out of range
    ├── NotFound             not_found: a node, bone or asset that does not exist
    ├── Compacted            compacted: events asked for are folded into a snapshot
    ├── Conflict             conflict: the stage's state forbids it (name taken, cycle …)
    ├── TooLarge             too_large: a message or asset over its size limit
    ├── Forbidden            forbidden: an asset path outside the asset roots, auth
    └── Internal             internal: a fault of the server, never of the request
└── StageTimeout             no answer in time (also a TimeoutError): the stage is down,
                             busy, or refused our CURVE keys

Modules with errors of their own draw them under StagecraftError in their docstrings
(``engine_server._journal``: JournalError, JournalCorrupt; ``scene``: ReplicaGap).
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Stable codes; clients branch on these, never on message text."""

    BAD_MESSAGE = "bad_message"
    UNKNOWN_COMMAND = "unknown_command"
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    COMPACTED = "compacted"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    FORBIDDEN = "forbidden"
    INTERNAL = "internal"


class StagecraftError(Exception):
    """Root of every error Stagecraft raises on purpose."""


class ProtocolError(StagecraftError):
    """An error with a stable wire code and a message a person can act on."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadMessage(ProtocolError):
    code = ErrorCode.BAD_MESSAGE


class UnknownCommand(ProtocolError):
    code = ErrorCode.UNKNOWN_COMMAND


class InvalidArgument(ProtocolError):
    code = ErrorCode.INVALID_ARGUMENT


class NotFound(ProtocolError):
    code = ErrorCode.NOT_FOUND


class Compacted(ProtocolError):
    """Events asked for are no longer journaled; ``seq``: the oldest ``after`` still answered."""

    code = ErrorCode.COMPACTED

    def __init__(self, message: str, *, seq: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.seq = seq


class Conflict(ProtocolError):
    code = ErrorCode.CONFLICT


class TooLarge(ProtocolError):
    code = ErrorCode.TOO_LARGE


class Forbidden(ProtocolError):
    code = ErrorCode.FORBIDDEN


class Internal(ProtocolError):
    code = ErrorCode.INTERNAL


class StageTimeout(StagecraftError, TimeoutError):
    """The stage did not answer in time; nothing is known of the request's fate."""


_BY_CODE: dict[ErrorCode, type[ProtocolError]] = {
    cls.code: cls
    for cls in (
        BadMessage,
        UnknownCommand,
        InvalidArgument,
        NotFound,
        Conflict,
        TooLarge,
        Forbidden,
        Internal,
    )
}


def error_for_code(
    code: str, message: str, field: str | None = None, seq: int | None = None
) -> ProtocolError:
    """The exception a client raises for an ``error`` reply (unknown codes become Internal)."""
    if code == ErrorCode.COMPACTED:
        return Compacted(message, seq=seq or 0, field=field)
    try:
        cls = _BY_CODE[ErrorCode(code)]
    except ValueError:
        cls = Internal
    return cls(message, field=field)

"""Errors an operation raises instead of returning a result.

Both carry a stable machine ``code`` (for the bot and the API) and a sentence for a human.
``OpRefused`` means "unsafe right now, nothing was changed" (CLI exit 3); ``OpInputError`` means
"the request itself is wrong, nothing was changed" (CLI exit 2).
"""

from __future__ import annotations


class OpError(Exception):
    exit_code = 1
    kind = "failed"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "code": self.code, "message": self.message}


class OpRefused(OpError):
    exit_code = 3
    kind = "refused"


class OpInputError(OpError):
    exit_code = 2
    kind = "invalid"

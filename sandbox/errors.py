"""The two kinds of refusal: a Bot API error answer, and a person's impossible action.

`ApiError` is what the bot side raises to answer an HTTP error with Telegram's JSON body;
`bad` builds the common 400 "Bad Request: ..." one. `SandboxError` is raised on the user side.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram sends with this error."""
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


class SandboxError(ValueError):
    """A user-side action that a person could not do (no such button, not a member...)."""

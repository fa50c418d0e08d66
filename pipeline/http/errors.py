"""The JSON error every route answers with: {"error": <code>, "detail": <what and why>}."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException


class ApiError(HTTPException):
    def __init__(self, status: int, error: str, detail: Any, headers: dict[str, str] | None = None):
        super().__init__(status, detail={"error": error, "detail": detail}, headers=headers)

    @classmethod
    def not_found(cls, kind: str, item_id: str, bot_id: str) -> ApiError:
        """The 404 of every route that looks one thing up by id within a bot."""
        return cls(404, "not_found", f"no {kind} {item_id[:80]!r} in bot {bot_id!r}")

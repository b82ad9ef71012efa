"""ECS errors in the JSON protocol's shape: {"__type": ..., "message": ...}."""

from __future__ import annotations


class EcsError(Exception):
    status = 400

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def body(self) -> dict:
        return {"__type": self.code, "message": self.message}

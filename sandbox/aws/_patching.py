"""Apply and undo attribute patches on moto's classes, remembering the originals."""

from __future__ import annotations

from typing import Any

_MISSING = object()


class Patcher:
    """Sets ``owner.name = value`` for each patch and restores the exact previous state.

    An attribute the class did not define itself (inherited or absent) is deleted again on
    restore, so the class looks as if it had never been touched.
    """

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    @property
    def applied(self) -> bool:
        return bool(self._saved)

    def apply(self, patches: list[tuple[Any, str, Any]]) -> None:
        for owner, name, value in patches:
            self._saved.append((owner, name, owner.__dict__.get(name, _MISSING)))
            setattr(owner, name, value)

    def restore(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


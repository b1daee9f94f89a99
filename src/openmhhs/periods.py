"""Half-open effective periods ``[start, end)`` with an open end (``end=None``).

Used for every effective-dated record: ISD entries (date-times), supplier ownership and
service appointments (UK local days). A period whose end equals its start is empty; it
still records that something was intended and withdrawn, and overlaps nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar

T = TypeVar("T", date, datetime)

__all__ = ["Period"]


@dataclass(frozen=True, slots=True)
class Period(Generic[T]):
    """``[start, end)``; ``end is None`` means open-ended."""

    start: T
    end: T | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def is_open(self) -> bool:
        return self.end is None

    @property
    def is_empty(self) -> bool:
        return self.end is not None and self.end == self.start

    def contains(self, point: T) -> bool:
        return self.start <= point and (self.end is None or point < self.end)

    def overlaps(self, other: Period[T]) -> bool:
        if self.is_empty or other.is_empty:
            return False
        starts_before_other_ends = other.end is None or self.start < other.end
        other_starts_before_end = self.end is None or other.start < self.end
        return starts_before_other_ends and other_starts_before_end

    def intersection(self, other: Period[T]) -> Period[T] | None:
        if not self.overlaps(other):
            return None
        start = max(self.start, other.start)
        if self.end is None:
            end = other.end
        elif other.end is None:
            end = self.end
        else:
            end = min(self.end, other.end)
        return Period(start, end)

    def ending(self, end: T) -> Period[T]:
        """This period closed at ``end`` (which must not be before the start)."""
        return Period(self.start, end)

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat() if self.end else '∞'})"

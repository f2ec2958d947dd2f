"""Where the Jobs page is in the jobs list, paged with `before=` (keyset paging).

A page read with the previous page's `next_before` costs the same however deep it is, but
the answer's offset is then 0 and a cursor only leads to older jobs: the page index, and
the cursors to go back by, are kept here. No Streamlit calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PAGE_SIZE = 200


@dataclass(frozen=True)
class Position:
    """A page of the jobs of one status filter (None: every status)."""

    status: str | None = None
    cursors: tuple[str, ...] = ()
    """The `before` of each page after the first, up to this one: the last is this page's."""

    @property
    def index(self) -> int:
        """0 on the first (newest) page."""
        return len(self.cursors)

    @property
    def before(self) -> str | None:
        return self.cursors[-1] if self.cursors else None

    def older(self, next_before: str) -> Position:
        return replace(self, cursors=(*self.cursors, next_before))

    def newer(self) -> Position:
        return replace(self, cursors=self.cursors[:-1])

    def newest(self) -> Position:
        return Position(self.status)

    def with_status(self, status: str | None) -> Position:
        """This position, or the first page of STATUS when the filter changed."""
        return self if status == self.status else Position(status)


def range_text(position: Position, shown: int, total: int, page_size: int = PAGE_SIZE) -> str:
    """Where the SHOWN jobs of POSITION's page are in the list, e.g. "Jobs 201–400 of 1,234".

    Each earlier page was full (a cursor comes only with a full page). Jobs that left the
    filter since they were read (a queued one now running) can put the end past TOTAL,
    which is then raised to match."""
    start = position.index * page_size
    end = start + shown
    return f"Jobs {start + 1:,}–{end:,} of {max(total, end):,}"

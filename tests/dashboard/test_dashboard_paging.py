"""The Jobs page's place in the jobs list, paged by cursor (no Streamlit needed)."""

from __future__ import annotations

from dashboard_streamlit.paging import Position, range_text


def test_older_and_newer_keep_the_cursors_to_go_back_by() -> None:
    first = Position()
    assert (first.index, first.before) == (0, None)
    third = first.older("800").older("600")
    assert (third.index, third.before) == (2, "600")
    second = third.newer()
    assert (second.index, second.before) == (1, "800")
    assert second.newer() == first
    assert third.newest() == first


def test_newer_on_the_first_page_stays_there() -> None:
    assert Position("failed").newer() == Position("failed")


def test_another_status_starts_at_its_first_page() -> None:
    deep = Position("queued").older("42")
    assert deep.with_status("queued") is deep
    assert deep.with_status("failed") == Position("failed")
    assert deep.with_status(None) == Position(None)
    assert deep.newest() == Position("queued")


def test_the_range_counts_the_pages_before() -> None:
    assert range_text(Position(), 50, 1234, page_size=50) == "Jobs 1–50 of 1,234"
    assert range_text(Position().older("9"), 50, 1234, page_size=50) == "Jobs 51–100 of 1,234"
    last = Position(cursors=("3",) * 24)
    assert range_text(last, 34, 1234, page_size=50) == "Jobs 1,201–1,234 of 1,234"


def test_the_range_never_ends_past_its_total() -> None:
    """Jobs that left the filter since an earlier page was read make the total smaller."""
    assert range_text(Position("queued", ("9",)), 50, 80, page_size=50) == "Jobs 51–100 of 100"

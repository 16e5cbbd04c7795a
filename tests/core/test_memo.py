"""remember(): a memo table that never grows past its bound."""

from __future__ import annotations

from errorkit._memo import remember


def test_a_full_table_is_emptied_before_the_new_entry() -> None:
    """Entries are kept up to the bound; the next one starts the table afresh."""
    table: dict[int, str] = {}
    for key in range(3):
        assert remember(table, key, f"v{key}", 3) == f"v{key}"
    assert table == {0: "v0", 1: "v1", 2: "v2"}
    assert remember(table, 3, "v3", 3) == "v3"
    assert table == {3: "v3"}

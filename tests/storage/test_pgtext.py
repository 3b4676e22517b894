"""The escaping of text PostgreSQL cannot hold (hub/storage/pgtext.py), as plain functions:
what it stores, and that every string comes back as it was."""

from __future__ import annotations

import itertools

import pytest

from hub.storage.pgtext import ESCAPE, escape, unescape

ALPHABET = ["a", "0", "\x00", ESCAPE]


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("", ""),
        ("plain text ✓", "plain text ✓"),
        ("\x00", f"{ESCAPE}0"),
        (ESCAPE, f"{ESCAPE}{ESCAPE}"),
        (f"{ESCAPE}0", f"{ESCAPE}{ESCAPE}0"),
        (f"a\x00{ESCAPE}\x00", f"a{ESCAPE}0{ESCAPE}{ESCAPE}{ESCAPE}0"),
    ],
)
def test_what_is_stored(text: str, stored: str) -> None:
    assert stored == escape(text)
    assert text == unescape(stored)


def test_every_short_string_of_the_awkward_characters_round_trips_without_nul() -> None:
    texts = [
        "".join(chars) for size in range(6) for chars in itertools.product(ALPHABET, repeat=size)
    ]

    stored = [escape(text) for text in texts]

    assert [] == [text for text in stored if "\x00" in text]
    assert texts == [unescape(text) for text in stored]
    assert len(texts) == len(set(stored))

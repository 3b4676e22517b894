"""Page sizes, page tokens and page slicing (hub/backends/pagination.py), without sockets."""

from __future__ import annotations

import base64
import json

import pytest

from hub.backends import pagination
from hub.backends.validation import Violations
from hub.errors import InvalidArgument
from hub.storage.store import Row

USERS = pagination.fingerprint("users")


def violated(v: Violations) -> bool:
    try:
        v.raise_if_any()
    except InvalidArgument:
        return True
    return False


def b64(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(("requested", "expected"), [(0, 50), (1, 1), (50, 50), (1000, 1000)])
def test_page_size_zero_means_the_default(requested: int, expected: int) -> None:
    """Sizes come checked against the rules of the request (0..1000); 0 means 50."""
    assert expected == pagination.page_size(requested)


def test_fingerprints_tell_lists_and_filters_apart() -> None:
    assert pagination.fingerprint("users") == pagination.fingerprint("users")
    assert pagination.fingerprint("users") != pagination.fingerprint("mindmaps", "")
    assert pagination.fingerprint("mindmaps", "a") != pagination.fingerprint("mindmaps", "b")
    # no ambiguity from joining: ("ab", "c") is not ("a", "bc")
    assert pagination.fingerprint("ab", "c") != pagination.fingerprint("a", "bc")


def test_a_token_round_trips_to_its_seq() -> None:
    v = Violations()
    token = pagination.encode_token(42, USERS)
    assert 42 == pagination.after_seq(v, "page_token", token, USERS)
    assert not violated(v)


def test_empty_token_is_the_first_page() -> None:
    v = Violations()
    assert 0 == pagination.after_seq(v, "page_token", "", USERS)
    assert not violated(v)


def test_tokens_are_urlsafe_ascii() -> None:
    token = pagination.encode_token(2**62, pagination.fingerprint("mindmaps", "ü/?+"))
    assert token.isascii()
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


@pytest.mark.parametrize(
    "token",
    [
        pagination.encode_token(3, pagination.fingerprint("mindmaps", "")),  # another list
        pagination.encode_token(3, pagination.fingerprint("mindmaps", "owner")),
        "not base64 at all!",
        "ü",
        b64("just a string"),
        b64([1, 2]),
        b64({"s": 3}),
        b64({"f": USERS}),
        b64({"s": "3", "f": USERS}),
        b64({"s": True, "f": USERS}),
        b64({"s": 1.5, "f": USERS}),
        b64({"s": -1, "f": USERS}),
        b64({"s": 2**63, "f": USERS}),  # beyond SQLite's integers
        b64({"s": 10**100, "f": USERS}),
        base64.urlsafe_b64encode(b"\xff\xfe{").decode(),  # not UTF-8
        "[" * 150,
        pagination.encode_token(1, USERS) + "x" * 300,  # too long to be one of ours
    ],
)
def test_a_foreign_or_broken_token_is_a_violation_on_page_token(token: str) -> None:
    v = Violations()
    pagination.after_seq(v, "page_token", token, USERS)
    with pytest.raises(InvalidArgument) as raised:
        v.raise_if_any()
    assert ["page_token"] == [violation.field for violation in raised.value.violations]


def rows(*seqs: int) -> list[Row[str]]:
    return [Row(seq, f"m{seq}") for seq in seqs]


def test_page_with_more_rows_than_the_size_has_a_token_after_its_last_row() -> None:
    items, token = pagination.page(rows(3, 5, 8), 2, USERS)
    assert ["m3", "m5"] == items
    assert 5 == pagination.after_seq(Violations(), "page_token", token, USERS)


@pytest.mark.parametrize("seqs", [(), (3,), (3, 5)])
def test_the_last_page_has_no_token(seqs: tuple[int, ...]) -> None:
    items, token = pagination.page(rows(*seqs), 2, USERS)
    assert ([f"m{s}" for s in seqs], "") == (items, token)

"""Public ticket numbers: check digit catches typos, numbers are keypad-friendly and unique."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
from sqlalchemy.orm import Session

from alo185.core import db
from alo185.tickets import numbers, queries


def test_check_digit_is_luhn() -> None:
    # The textbook Luhn example: 7992739871 -> 3.
    assert numbers.check_digit("7992739871") == "3"
    assert numbers.is_well_formed("12345674")
    assert numbers.check_digit("1234567") == "4"


@pytest.mark.parametrize("number", ["12345674", "95727756", "39377684"])
def test_every_single_mistyped_digit_is_detected(number: str) -> None:
    assert numbers.is_well_formed(number)
    for position in range(len(number)):
        for digit in "0123456789":
            typo = number[:position] + digit + number[position + 1 :]
            if typo != number:
                assert not numbers.is_well_formed(typo), typo


def test_neighbour_swaps_are_detected_except_09() -> None:
    for _ in range(200):
        number = numbers.random_number()
        for i in range(len(number) - 1):
            swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
            if swapped != number and {number[i], number[i + 1]} != {"0", "9"}:
                assert not numbers.is_well_formed(swapped), (number, swapped)


@pytest.mark.parametrize("raw", ["", "1234567", "123456745", "02345678", "1234567a", "１２３４５６７４", "12345675"])
def test_malformed_numbers(raw: str) -> None:
    assert not numbers.is_well_formed(raw)


def test_random_numbers_are_eight_keypad_digits() -> None:
    generated = {numbers.random_number() for _ in range(2000)}
    assert all(len(n) == 8 and n.isdigit() and n[0] != "0" and numbers.is_well_formed(n) for n in generated)
    assert len(generated) > 1990


def test_spaces_and_dashes_are_ignored() -> None:
    assert numbers.clean(" 1234-56.74 ") == "12345674"


class _NoDatabase:
    def scalar(self, *_args: object, **_kwargs: object) -> None:
        raise AssertionError("a malformed number must not reach the database")


def test_find_by_number_rejects_a_typo_without_a_lookup() -> None:
    no_database = cast(Session, _NoDatabase())  # a stand-in: it fails the test if reached
    assert queries.find_by_number(no_database, "12345675") is None
    assert queries.find_by_number(no_database, "abc") is None


def test_new_number_skips_numbers_already_taken(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_tickets_queries import seeded_ticket

    with db.session_factory(database_url)() as session:
        taken = seeded_ticket(session).number
        offered: Iterator[str] = iter([taken, taken, "12345674"])
        monkeypatch.setattr(numbers, "random_number", lambda: next(offered))
        assert numbers.new_number(session) == "12345674"


def test_new_number_gives_up_when_everything_is_taken(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_tickets_queries import seeded_ticket

    with db.session_factory(database_url)() as session:
        taken = seeded_ticket(session).number
        monkeypatch.setattr(numbers, "random_number", lambda: taken)
        with pytest.raises(RuntimeError, match="exhausted"):
            numbers.new_number(session)

import random

import phonenumbers
import pytest

from alo185.core.phone import display, mask, normalize


@pytest.mark.parametrize("raw", ["05321234567", "+905321234567", "5321234567", "0532 123 45 67", "905321234567"])
def test_turkish_mobile_normalises_to_e164(raw: str) -> None:
    assert normalize(raw) == "+905321234567"


def test_display_is_turkish_format() -> None:
    assert display("05321234567") == "+90 532 123 45 67"
    assert display("03242345678") == "+90 324 234 56 78"


@pytest.mark.parametrize("first", "123456789")
def test_display_groups_every_kind_of_number_as_phonenumbers_does(first: str) -> None:
    """Mobile, geographic, 512, 80x, 850…: the shortcut for E.164 numbers formats as parsing would."""
    rng = random.Random(first)
    for _ in range(500):
        e164 = f"+90{first}{rng.randrange(10**9):09d}"
        parsed = phonenumbers.parse(e164)
        assert display(e164) == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def test_mask_hides_the_middle() -> None:
    assert mask("05321234567") == "+90 532 *** ** 67"


@pytest.mark.parametrize("raw", ["", None, "anonymous", "185", "1001"])
def test_non_numbers_are_not_normalised_and_are_masked(raw: str | None) -> None:
    assert normalize(raw) is None
    shown = mask(raw)
    assert not any(c.isdigit() for c in shown)


def test_the_e164_fast_path_agrees_with_phonenumbers() -> None:
    import random

    import phonenumbers

    rng = random.Random(185)
    for _ in range(5000):
        raw = "+90" + str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(9))
        parsed = phonenumbers.parse(raw, "TR")
        expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        assert normalize(raw) == (expected if phonenumbers.is_possible_number(parsed) else None)
    assert normalize("+9005321234567") == normalize("05321234567") == "+905321234567"


def test_numbers_in_log_lines_are_masked(caplog) -> None:
    import logging

    from alo185.core.phone import MaskingFilter, mask_in_text

    assert mask_in_text("arayan +905321234567, geri ara 05321234567 / 5321234567") == (
        "arayan +90 532 *** ** 67, geri ara +90 532 *** ** 67 / +90 532 *** ** 67"
    )
    assert mask_in_text("başvuru 35509330, çağrı 1700000000.12") == "başvuru 35509330, çağrı 1700000000.12"
    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "SMS to %s failed", ("+903242345678",), None)
    assert handler.filter(record) and record.getMessage() == "SMS to +90 324 *** ** 78 failed"

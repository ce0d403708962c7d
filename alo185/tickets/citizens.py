"""Personal data of citizens that must never be stored in the clear (KVKK)."""

from __future__ import annotations


def mask_tc(tc_kimlik_no: str) -> str:
    """``12345678978`` → ``123******78``: enough to tell two people apart on the phone, not to identify anyone.

    Only the masked form is stored (the model refuses anything else), so a full number never reaches
    the database, its backups or its logs.
    """
    digits = tc_kimlik_no.strip()
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit() or digits[0] == "0":
        raise ValueError("a TC kimlik no has 11 digits and does not start with 0")
    return f"{digits[:3]}{'*' * 6}{digits[-2:]}"

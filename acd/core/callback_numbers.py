"""The number a callback goes to: the caller id, or digits the caller enters and confirms.

A group asks for the number ``never`` (the caller id only: an anonymous caller cannot
have a callback), ``when_unknown`` (anonymous, withheld or junk caller id) or
``always``. The caller types it in [acd-callback-number] (Read, read back with
SayDigits, a one-key confirmation) and acd checks it here before the request is kept.
"""

from __future__ import annotations

import enum
import re

# E.164: at most 15 digits. Fewer than 5 digits is a short code, never a customer's line:
# this also keeps out every emergency number (112, 911, 999, 000, 110, 15, 17, 18...),
# which a callback must never dial.
MIN_DIGITS = 5
MAX_DIGITS = 15
# the confirmation key the prompt names ("if this is correct, press 1")
CONFIRM_KEY = "1"
# a caller in [acd-callback-number] is not in music: no announcement cuts the entry short
# for this long after it starts (two Reads of up to 10 s of silence each, prompts, retries)
ENTRY_GUARD_S = 90.0


class AskNumber(enum.Enum):
    NEVER = "never"
    WHEN_UNKNOWN = "when_unknown"
    ALWAYS = "always"


def usable_number(number: str) -> str:
    """The caller id as a number the trunk can dial, or "" (anonymous, withheld, junk)."""
    digits = number.strip()
    body = digits[1:] if digits.startswith("+") else digits
    return digits if body.isdigit() and 3 <= len(body) <= 20 else ""


def must_ask(ask: AskNumber, caller_id: str) -> bool:
    """Should the caller type the number in, rather than be called back on their caller id?"""
    return ask is AskNumber.ALWAYS or (ask is AskNumber.WHEN_UNKNOWN and not usable_number(caller_id))


def refusal(number: str, confirmed: bool, pattern: str = "") -> str | None:
    """Why an entered number is not taken (in a supervisor's words), or None when it is."""
    if not number:
        return "no number was entered"
    if not confirmed:
        return "the number was not confirmed"
    if not number.isdigit():
        return "the number has characters other than digits"
    if len(number) < MIN_DIGITS:
        return f"the number is shorter than {MIN_DIGITS} digits"
    if len(number) > MAX_DIGITS:
        return f"the number is longer than {MAX_DIGITS} digits"
    if pattern and re.fullmatch(pattern, number) is None:
        return "the number is not one the group calls back"
    return None

"""Read() and SayDigits(): a caller types digits and hears them back.

No recording shows them; the sim follows Asterisk's documentation of Read (docs.asterisk.org,
Dialplan Applications, Read: "Reads a #-terminated string of digits"; maxdigits "Stops
reading after maxdigits have been entered (without requiring the user to press the '#'
key)"; timeout "If greater than 0, that value will override the default timeout"; it sets
READSTATUS to OK, ERROR, HANGUP, INTERRUPTED, SKIPPED or TIMEOUT). Assumed, and said in
tests/fixtures/ami/README.md: a key stops the prompts and counts as the first digit; the
timeout applies to the first digit and between digits; a timeout keeps the digits typed so
far (READSTATUS TIMEOUT); neither application raises an event of its own, only Newexten
(as SayNumber, transcripts 16); the keys still raise DTMFBegin/DTMFEnd (transcripts 14).
"""

from __future__ import annotations

from .channels import UP, Channel
from .dialplan import DialplanError, split_args
from .pbx import HANGUP, NEXT, Pbx

# Asterisk's default TIMEOUT(response) when Read() is given none
DEFAULT_TIMEOUT_S = 10.0
MAX_DIGITS = 255  # Read(): "Max accepted value is '255'"
TERMINATOR = "#"


async def read(pbx: Pbx, chan: Channel, data: str) -> str:
    args = [*split_args(data), "", "", "", "", "", ""]
    variable, prompts = args[0].strip(), [f for f in args[1].split("&") if f.strip()]
    if not variable:
        raise DialplanError("Read() without a variable")
    options = args[3].strip()
    if set(options) - {"s", "n"}:
        raise DialplanError(f"Read() option {options!r} is not simulated (only s and n)")
    try:
        max_digits = min(max(int(args[2] or 0), 0), MAX_DIGITS)
        attempts = max(int(args[4] or 1), 1)
        timeout = float(args[5]) if args[5].strip() and float(args[5]) > 0 else DEFAULT_TIMEOUT_S
    except ValueError:
        pbx.set_var(chan, "READSTATUS", "ERROR")
        return NEXT
    if chan.state != UP:
        if "s" in options:
            pbx.set_var(chan, "READSTATUS", "SKIPPED")
            return NEXT
        if "n" not in options:
            pbx.set_state(chan, UP)
    chan.keys = []
    try:
        for _ in range(attempts):  # "that many attempts will be made in the event that no data is entered"
            status, typed = await _read_once(pbx, chan, prompts, max_digits, timeout)
            if typed or status != "TIMEOUT":
                break
    finally:
        chan.keys = None
    pbx.set_var(chan, variable, typed)
    pbx.set_var(chan, "READSTATUS", status)
    return HANGUP if status == "HANGUP" else NEXT


async def _read_once(pbx: Pbx, chan: Channel, prompts: list[str], max_digits: int,
                     timeout: float) -> tuple[str, str]:
    keys = chan.keys
    assert keys is not None
    for _ in prompts:
        if keys or not await pbx.sleep(chan, pbx.features.playback_s):
            break  # a key stops the prompts
    typed = ""
    while True:
        if chan.hungup or chan.hangup_requested:
            return "HANGUP", typed
        if chan.pending_goto is not None or chan.pulled:
            return "INTERRUPTED", typed  # a Redirect: the dialplan loop takes the channel on
        while keys:
            key = keys.pop(0)
            if key == TERMINATOR:
                return "OK", typed
            typed += key
            if max_digits and len(typed) >= max_digits:
                return "OK", typed
        if await pbx.sleep(chan, timeout):
            return "TIMEOUT", typed


async def say_digits(pbx: Pbx, chan: Channel, data: str) -> str:
    """SayDigits(digits): one sound file per character (digits/N), not interrupted by keys."""
    text = split_args(data)[0].strip()
    await pbx.sleep(chan, len(text) * pbx.features.say_word_s)
    return NEXT

"""Turning AMI frames into messages, fast: this runs for every event Asterisk sends.

panoramisk's ``Message.from_line`` builds a case-insensitive dict one header at a
time; measured on the recorded frames it costs more than everything acd does with an
event afterwards (bench/ami_ingest.py). Live events, which are most of the traffic and
never answer an action, become plain dicts here, with Asterisk's own key spelling
(the tracker reads them as recorded: ``Uniqueid``, ``DestChannel``...). Frames that
answer an action (they carry an ActionID) still become panoramisk Messages, so its
response matching works unchanged. Events nobody handles are dropped unparsed.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Collection
from itertools import repeat
from typing import Any

from panoramisk.message import Message  # type: ignore[import-untyped]

Frame = dict[str, Any]  # a live event: key -> value, or a list of values for a repeated key


def event_name(frame: str) -> str:
    """The event of a frame that starts with "Event: " (Asterisk always puts it first), else ""."""
    if not frame.startswith("Event: "):
        return ""
    end = frame.find("\r\n")
    return frame[7:] if end < 0 else frame[7:end]


# header lines seen lately -> (key, value): most lines of a live event repeat verbatim
# from event to event (Privilege, Context, ChannelStateDesc, Language, an agent's
# CallerIDName...), and a line found here is neither cut in two nor made into two new
# strings again (bench/ami_ingest.py: a third of the parse). Bounded: emptied when
# full, and a line longer than any usual header is never kept.
_LINES: dict[str, tuple[str, str]] = {}
LINES_KEPT = 4096
LINE_KEPT_MAX = 200


def parse_event(frame: str) -> Frame:
    """``Key: Value`` lines to a dict; a repeated key (ChanVariable, Variable, Output)
    collects its values in a list, as panoramisk does (transcripts README "Repeated keys")."""
    out = _lines_of(frame)
    return _parse_any(frame) if out is None else out


def read_lines(frame: str) -> Frame | None:
    """``parse_event``'s reading, or None when a line has no ": " (the caller's slow
    way). The interpreted build's; the compiled build's is in C (_headers.c) and must
    give the same (tests/pbx/test_framing.py)."""
    out: Frame = {}
    seen = _LINES
    for line in frame.split("\r\n"):
        pair = seen.get(line)
        if pair is None:
            key, sep, value = line.partition(": ")
            if not sep:
                return None
            if len(line) <= LINE_KEPT_MAX:
                if len(seen) >= LINES_KEPT:
                    seen.clear()
                seen[line] = key, value
        else:
            key, value = pair
        if key in out:
            previous = out[key]
            if previous.__class__ is list:
                previous.append(value)
            else:
                out[key] = [previous, value]
        else:
            out[key] = value
    return out


_lines_of: Callable[[str], Frame | None] = read_lines
try:  # the compiled build's reader (acd/hot_path.py); ~2.5x as fast (bench/ami_ingest.py)
    from ._headers import parse_lines

    _lines_of = parse_lines
except ImportError:  # the interpreted build
    pass


def _parse_any(frame: str) -> Frame:
    """``parse_event`` for every frame, the odd ones too: a line without ": " (the banner,
    a stray blank) is left out, and "AccountCode:" (a frame that was stripped) has an
    empty value. The rest is parse_event's, on the lines that are left, which all have
    ": " (so this is not called again)."""
    lines = [line if ": " in line else line + " " for line in frame.split("\r\n")
             if ": " in line or line.endswith(":")]
    return parse_event("\r\n".join(lines)) if lines else {}


def live_event_name(frame: str) -> str:
    """The event of a frame that is a live event (it starts with "Event: " and answers
    no action: no ActionID), else "". Read for every frame, before anything is parsed."""
    if not frame.startswith("Event: ") or "\r\nActionID: " in frame:
        return ""
    end = frame.find("\r\n")
    return frame[7:] if end < 0 else frame[7:end]


def live_run(frames: list[str], start: int, wanted: Collection[str] | None,
             may_answer_ours: bool) -> tuple[list[str], int]:
    """The live events to handle among ``frames[start:]``, up to the first frame that
    needs more than a look at its name (an answer to an action, an event that carries an
    ActionID, a Shutdown, a frame with no event name), and that frame's index (or
    ``len(frames)``). An event nobody wants is dropped unparsed, unless it carries an
    ActionID while some action awaits answers (``may_answer_ours``: a list item may be
    one). The AMI link runs this over every read, which brings mostly live events:
    here they are sorted in compiled code, and only the frames it stops at go the long way."""
    out: list[str] = []
    i, n = start, len(frames)
    while i < n:
        frame = frames[i]
        if not frame.startswith("Event: "):
            break
        end = frame.find("\r\n")
        name = frame[7:end] if end >= 0 else frame[7:]
        if not name:
            break
        if wanted is not None and name not in wanted:
            if may_answer_ours and "\r\nActionID: " in frame:
                break
        elif name == "Shutdown" or "\r\nActionID: " in frame:
            break
        else:
            out.append(frame)
        i += 1
    return out, i


def hand_over(events: deque[Any], on_event: Callable[[Any], object], log: logging.Logger) -> bool:
    """Each queued live event in turn, parsed now (a frame from ``live_run``) or as it is
    (a panoramisk Message), to ``on_event``: the AMI link's consumer in the callback that
    read them. False once the link's end (None) is taken: nothing after it is handled.
    One event's failure is logged on ``log`` and the next still goes."""
    debug = log.isEnabledFor(logging.DEBUG)
    while events:
        item = events.popleft()
        if item is None:
            return False
        message = parse_event(item) if isinstance(item, str) else item
        if debug:
            log_event(log, message)
        try:
            on_event(message)
        except Exception:  # a bug in one event's handling must not drop the link
            log.exception("ami event handler failed", extra={"ami_event": message.get("Event", "")})
    return True


def log_event(log: logging.Logger, message: Frame | Message) -> None:
    log.debug("ami event", extra={"ami_event": message.get("Event", ""), "ami_uniqueid": message.get("Uniqueid", "")})


def parse(frame: str, wanted: Collection[str] | None = None) -> Frame | Message | None:
    """One frame (without its closing blank line): a dict for a live event, a panoramisk
    Message for anything that answers an action, None for a frame to drop (an event not
    in ``wanted``, or no message at all such as the banner alone)."""
    name = live_event_name(frame)
    if name:
        if wanted is not None and name not in wanted:
            return None
        return parse_event(frame)
    return parse_answer(frame.strip())


_HAS_BODY = ("Response: Follows", "Response: Fail")  # panoramisk reads their last line as a body


def parse_answer(frame: str) -> Message:
    """A frame that answers an action, as panoramisk's ``Message.from_line`` reads it.
    The common answer (``Response: Success`` and a few headers, each once) is made in
    one step; a ring attempt's three actions bring three, and building each header by
    header cost more than the tracker's work for an event (bench/ami_ingest.py)."""
    simple = _SIMPLE_ANSWER.fullmatch(frame)
    if simple is not None:  # Response, ActionID, Message: a Setvar's or a Redirect's answer
        return _message({"response": ("Response", simple[1]), "actionid": ("ActionID", simple[2]),
                         "message": ("Message", simple[3])})
    if frame.startswith("Response: ") and not frame.startswith(_HAS_BODY):
        lines = frame.split("\r\n")
        try:
            headers: dict[str, str] = dict(map(str.split, lines, repeat(": "), repeat(1)))
        except ValueError:  # a line without ": ", which from_line skips
            return Message.from_line(frame)
        if len(headers) == len(lines) and not any(key.lower() in Message.quoted_keys for key in headers):
            # the last of two spellings of a key wins, as in Message(headers)
            return _message({key.lower(): (key, value) for key, value in headers.items()})
    return Message.from_line(frame)


# the common answer, each header once and none with a body (_HAS_BODY) or quoted (Result)
_SIMPLE_ANSWER = re.compile(r"Response: (Success|Error)\r\nActionID: ([^\r\n]*)\r\nMessage: ([^\r\n]*)")


def _message(store: dict[str, tuple[str, Any]]) -> Message:
    """What ``Message(headers, content="")`` makes, from CaseInsensitiveDict's own storage
    (lower-cased key -> (key as written, value)), in one step."""
    message = Message.__new__(Message)
    store["content"] = ("content", "")
    message._store = store
    message.manager = None
    return message

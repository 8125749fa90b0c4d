"""Validation problems as sentences that name the field and what it takes:
"Rings before the next member: enter a whole number from 2 to 7", never pydantic's
"Input should be less than or equal to 7 (got '99')".

``sentence(err, model)`` turns one pydantic error into that sentence; the range comes
from the field's own constraints (``Field(ge=2, le=7)``), found by walking ``model``
along the error's location, so a bound changed in the model is said right at once.
The configuration's problems (pages, the API's 422, ``acd check``) and FastAPI's own
validation errors (query parameters) go through here.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

# the fields as the pages label them; any other reads as its name in words
LABELS = {
    "rings": "Rings before the next member",
    "ring_seconds": "Length of one ring (seconds)",
    "wrapup_seconds": "Wrap-up time after a call (seconds)",
    "max_wait_seconds": "Longest wait (seconds)",
    "retry_seconds": "Pause before ringing the members again (seconds)",
    "forward_ring_seconds": "How long the forwarded call rings (seconds)",
    "after_wait": "After the longest wait",
    "action": "If nobody answers",
    "mode": "Distribute calls",
    "members": "Members",
    "person": "Responsible person",
    "number": "Phone number to forward to",
    "group": "Queue group to forward to",
    "message": "Message played before hanging up",
    "allow_pickup": "Allow call pickup in this group",
    "time_zone": "Time zone",
    "announce.say": "What a waiting caller hears",
    "announce.every_seconds": "Announce every (seconds)",
    "announce.message": "Message played while waiting",
    "announce.message_every_seconds": "Play the message every (seconds)",
    "capacity": "Conversations at once",
    "idle_seconds": "Time before passing a conversation on (seconds)",
    "port": "Port",
}
# the missed-call actions as the group form says them (Bitrix24's "Missed-call processing")
MISSED_ACTIONS = {
    "voicemail": "send to voicemail",
    "forward_mobile": "forward to the responsible person's mobile",
    "forward_number": "forward to a phone number",
    "forward_group": "forward to another queue group",
    "keep_waiting": "keep the caller waiting (music), ringing again",
    "hangup": "play a message and hang up",
}


# the generic part of a sentence this module wrote (pages that say a field their own
# way replace only these)
GENERIC = re.compile(r"^[^:]*: (enter |choose |use |required$|not in the form)|^unknown setting")


def label(loc: Sequence[str | int]) -> str:
    """The field's label from the last names in its location ("announce.message", else "message")."""
    names = [str(p) for p in loc if isinstance(p, str) and p not in ("body", "query", "path")]
    name = names[-1] if names else ""
    for key in (".".join(names[-2:]), name):
        if key in LABELS:
            return LABELS[key]
    text = name.removesuffix("_seconds").replace("_", " ").strip() or "This value"
    return text[0].upper() + text[1:] + (" (seconds)" if name.endswith("_seconds") else "")


def number_range(info: FieldInfo | None, ctx: Mapping[str, Any], whole: bool) -> str:
    """"a whole number from 2 to 7", "a number above 0, up to 60", "a number of at least 1"."""
    low: Any = None
    high: Any = None
    low_open = high_open = False
    for m in getattr(info, "metadata", ()) if info is not None else ():
        if isinstance(m, at.Ge):
            low = m.ge
        elif isinstance(m, at.Gt):
            low, low_open = m.gt, True
        elif isinstance(m, at.Le):
            high = m.le
        elif isinstance(m, at.Lt):
            high, high_open = m.lt, True
    if low is None and high is None:  # no model to read: what the error itself says
        low, low_open = ctx.get("ge", ctx.get("gt")), "gt" in ctx
        high, high_open = ctx.get("le", ctx.get("lt")), "lt" in ctx
    kind = "a whole number" if whole else "a number"
    if low is not None and high is not None:
        if not low_open and not high_open:
            return f"{kind} from {_n(low)} to {_n(high)}"
        above, below = ("above" if low_open else "of at least"), ("below" if high_open else "up to")
        return f"{kind} {above} {_n(low)}, {below} {_n(high)}"
    if low is not None:
        return f"{kind} {'above' if low_open else 'of at least'} {_n(low)}"
    if high is not None:
        return f"{kind} {'below' if high_open else 'up to'} {_n(high)}"
    return kind


def _n(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _is_whole(info: FieldInfo | None, kind: str) -> bool:
    if kind.startswith("int"):
        return True
    annotation = getattr(info, "annotation", None)
    return annotation is int or int in typing.get_args(annotation)


def field_at(model: type[BaseModel] | None, loc: Sequence[str | int]) -> FieldInfo | None:
    """The FieldInfo that ``loc`` (``("groups", 0, "rings")``) ends at, or None."""
    info: FieldInfo | None = None
    node: Any = model
    for part in loc:
        if isinstance(part, int) or part == "[key]":
            node = _item_type(node)
            continue
        node = _model_in(node)
        if node is None or part not in node.model_fields:
            return None
        info = node.model_fields[part]
        node = _unwrapped(info.annotation)
        if node is not None and typing.get_origin(node) is None and isinstance(node, type) \
                and not issubclass(node, BaseModel):
            node = None
    return info


def _unwrapped(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return _unwrapped(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrapped(args[0]) if len(args) == 1 else annotation
    return annotation


def _item_type(node: Any) -> Any:
    args = typing.get_args(_unwrapped(node))
    return _unwrapped(args[-1]) if args else None


def _model_in(node: Any) -> type[BaseModel] | None:
    node = _unwrapped(node)
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def sentence(err: Mapping[str, Any], model: type[BaseModel] | None = None) -> str:
    """One pydantic error as "<Field>: <what it takes>"; the input is never repeated. A
    validator's own message (a ValueError acd raises) is already a sentence: kept."""
    loc = tuple(err.get("loc", ()))
    kind, ctx = str(err.get("type", "")), err.get("ctx") or {}
    info = field_at(model, [p for p in loc if p != "body"]) if model is not None else None
    name = label(loc)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "int_parsing", "int_type",
                "int_from_float", "float_parsing", "float_type", "finite_number"):
        whole = _is_whole(info, kind)
        return f"{name}: enter {number_range(info, ctx, whole)}"
    if kind in ("string_too_long", "too_long"):
        what = "characters" if kind.startswith("string") else "items"
        return f"{name}: use at most {ctx.get('max_length')} {what}"
    if kind in ("string_too_short", "too_short"):
        least = ctx.get("min_length")
        if kind == "too_short" and least == 1:
            return f"{name}: choose at least one"
        return f"{name}: use at least {least} {'characters' if kind.startswith('string') else 'items'}"
    if kind in ("enum", "literal_error"):
        return f"{name}: choose one of {ctx.get('expected', 'the listed values')}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{name}: choose yes or no (true or false)"
    if kind == "string_pattern_mismatch":
        return f"{name}: not in the form this setting takes"
    if kind == "missing":
        return f"{name}: required"
    if kind == "extra_forbidden":
        return "unknown setting (misspelt?)"  # the item names it, as the file spells it
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")  # our validators' own sentence

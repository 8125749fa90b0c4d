"""acd.core.frozen: the events' and commands' faster __init__ behaves as the generated one."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, get_args

import pytest

from acd.core.commands import Command, Record
from acd.core.events import Event, FailReason, MemberFailed
from acd.core.frozen import fast_init


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    call_id: str
    attempt: int
    agents: tuple[str, ...] = ()
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


_GENERATED = str(inspect.signature(Sample))
fast_init(Sample)


def _fast(cls: type) -> bool:
    """Its __init__ stores through the slots: the generated one of a frozen class calls
    object.__setattr__ (``__dataclass_builtins_object__``) for each field."""
    return "__dataclass_builtins_object__" not in cls.__init__.__code__.co_names  # type: ignore[misc]


def test_a_fast_init_keeps_the_signature_defaults_and_frozenness() -> None:
    assert _fast(Sample) and str(inspect.signature(Sample)) == _GENERATED
    a, b = Sample("1.1", 2), Sample(attempt=2, call_id="1.1")
    assert a == b and a != Sample("1.1", 3)
    assert repr(Sample("1.1", 2, ("anna",), {"k": 1})) == \
        "Sample(call_id='1.1', attempt=2, agents=('anna',), detail={'k': 1})"
    assert a.agents == () and a.detail == {} and a.detail is not b.detail  # a fresh dict each time
    assert dataclasses.replace(a, attempt=3) == Sample("1.1", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.attempt = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Sample("1.1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample("1.1", 2, nope=1)  # type: ignore[call-arg]


def test_every_event_and_command_is_made_by_a_fast_init_with_its_fields_as_parameters() -> None:
    for cls in (*get_args(Event), *get_args(Command)):
        params = list(inspect.signature(cls).parameters.values())
        fields = dataclasses.fields(cls)
        assert [p.name for p in params] == [f.name for f in fields], cls
        for p, f in zip(params, fields, strict=True):
            assert p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
            if f.default is not dataclasses.MISSING:
                assert p.default == f.default, (cls, f.name)
        assert _fast(cls), cls
    record = Record("1.1", 5.0, "ringing")
    assert record.detail == {} and record == Record(call_id="1.1", at=5.0, kind="ringing", detail={})
    assert MemberFailed("1.1", 1, "anna", FailReason.BUSY).reason is FailReason.BUSY

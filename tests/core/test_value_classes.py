"""The commonest events and commands write their own ``__init__`` (commands.Record says
why): each must still be the frozen dataclass it declares, field for field."""

from __future__ import annotations

import dataclasses
import enum
import pickle
import typing

import pytest

from acd.core import commands, events


def _written_out() -> list[type]:
    """The frozen dataclasses of the core's events and commands with an __init__ of
    their own: the one @dataclass makes is Python compiled from a string."""
    out = []
    for module in (events, commands):
        for cls in vars(module).values():
            if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__:
                code = getattr(cls.__dict__.get("__init__"), "__code__", None)
                if code is None or code.co_filename != "<string>":
                    out.append(cls)
    return out


WRITTEN_OUT = _written_out()


def test_the_commonest_ones_write_their_own() -> None:
    names = {cls.__name__ for cls in WRITTEN_OUT}
    assert names == {"Record", "StartTimer", "CancelTimer", "MemberRinging", "MemberFailed", "DeviceStateChanged"}


def _sample(hint: object, n: int) -> object:
    if hint is str:
        return f"v{n}"
    if hint is int:
        return 10 + n
    if hint is float:
        return 1.5 + n
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return list(hint)[n % len(hint)]
    if hint is dict or typing.get_origin(hint) is dict:  # compiled, annotations are bare classes
        return {f"k{n}": n}
    raise AssertionError(f"no sample for {hint!r}")


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda cls: cls.__name__)
def test_an_own_init_takes_every_field_in_order_and_keeps_the_dataclass(cls: type) -> None:
    fields = dataclasses.fields(cls)
    hints = typing.get_type_hints(cls)
    values = {f.name: _sample(hints[f.name], n) for n, f in enumerate(fields)}
    made = cls(**values)  # every field by its name (a compiled __init__ shows no signature)
    assert {f.name: getattr(made, f.name) for f in fields} == values
    assert made == cls(*values.values())  # and in order
    if not any(isinstance(v, dict) for v in values.values()):
        assert hash(made) == hash(cls(**values))
    assert repr(made) == f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in values.items())})"
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, fields[0].name, values[fields[0].name])
    last = fields[-1].name
    other = _sample(hints[last], len(fields))
    assert dataclasses.replace(made, **{last: other}) == cls(**{**values, last: other})
    if cls is commands.Record:  # pickled to the history's child process (acd/store/history_process.py)
        assert pickle.loads(pickle.dumps(made)) == made


def test_a_record_without_detail_gets_a_dict_of_its_own() -> None:
    one, two = commands.Record("1.1", 5.0, "arrived"), commands.Record("1.2", 5.0, "arrived")
    assert one.detail == {} and one.detail is not two.detail

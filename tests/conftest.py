"""Every async test and its async fixtures run on acd's own loop, uvloop
(acd/event_loop.py), so the suite exercises the loop the service runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

from acd.event_loop import new_event_loop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"uvloop": new_event_loop}

"""What a waiting caller hears, end to end: acd decides, the simulator runs the project's
[acd-announce] context (recording 16's events), the caller goes back to music."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

from acd.sim import Answer

from .stack import Stack, running

EVERY = 20.0


def sales(**announce: Any) -> dict[str, Any]:
    return {"id": "sales", "members": ["boris"], "mode": "strict", "rings": 2, "ring_seconds": 2,
            "missed": {"action": "keep_waiting", "max_wait_seconds": 900, "retry_seconds": 300},
            "announce": announce}


def watch(s: Stack) -> list[tuple[float, str, str, str]]:
    """(sim time, Uniqueid, Application, AppData) of every dialplan step in acd-announce."""
    seen: list[tuple[float, str, str, str]] = []
    emit = s.sim.pbx.emit

    def watching(name: str, cls: str, pairs: Any) -> None:
        fields = dict(pairs)
        if name == "Newexten" and fields.get("Context") == "acd-announce":
            seen.append((s.clock.now(), fields.get("Uniqueid", ""), fields.get("Application", ""),
                         fields.get("AppData", "")))
        emit(name, cls, pairs)

    s.sim.pbx.emit = watching  # type: ignore[method-assign]
    return seen


def announcements(seen: list[tuple[float, str, str, str]], uid: str) -> list[tuple[float, list[str]]]:
    """Each announcement a caller heard to its end (the Goto back to music): (when it
    began, the prompts and numbers said)."""
    out: list[tuple[float, list[str]]] = []
    playing: tuple[float, list[str]] | None = None
    for at, who, app, data in seen:
        if who != uid:
            continue
        if app == "NoOp":
            playing = (at, [])
        elif app in ("Playback", "SayNumber") and playing is not None:
            playing[1].append(data)
        elif app == "Goto" and data == "acd-hold,s,1" and playing is not None:
            out.append(playing)
            playing = None
    return out


async def boris_busy(s: Stack) -> Any:
    colleague = await s.phone("dmitri").dial("102")
    await s.until(lambda: colleague.answered.is_set(), 10)
    await s.until(lambda: s.acd.router.agents.status("boris").device.value == "INUSE", 5)
    return colleague



async def answered_wait(s: Stack, call_id: str) -> float:
    """The call's wait as the history has it, once acd has seen the answer (the simulator
    says "answered" first; a loaded machine may take a moment longer to tell acd)."""
    for _ in range(500):
        found = await s.history(call_id)
        if found is not None and found.answered_by:
            return float(found.waited_s)
        await asyncio.sleep(0.01)
    raise AssertionError(f"{call_id}: the history never saw the answer")

async def test_position_announcements_every_n_seconds_follow_the_callers_ahead(tmp_path: Path) -> None:
    group = sales(say="position", every_seconds=EVERY)
    async with running(tmp_path, [group], {"boris": Answer(after=1), "dmitri": Answer(after=1)}) as s:
        seen = watch(s)
        await boris_busy(s)
        callers = []
        for n in range(3):
            callers.append(await s.sim.call(did="5000", caller=f"1555000{n}"))
            await s.clock.sleep(1)
        third = callers[2]
        await s.until(lambda: len(announcements(seen, third.uniqueid)) >= 1, 10)
        assert announcements(seen, third.uniqueid)[0][1] == ["queue-thereare", "3", "queue-callswaiting",
                                                             "queue-thankyou"]
        await callers[0].hangup()  # the first in line gives up
        await s.until(lambda: len(announcements(seen, third.uniqueid)) >= 2, EVERY + 10)
        assert announcements(seen, third.uniqueid)[1][1][:2] == ["queue-thereare", "2"]
        await callers[1].hangup()
        await s.until(lambda: len(announcements(seen, third.uniqueid)) >= 3, EVERY + 10)
        assert announcements(seen, third.uniqueid)[2][1] == ["queue-youarenext", "queue-thankyou"]
        starts = [at for at, _ in announcements(seen, third.uniqueid)]
        # every N s; a loaded machine may start a Redirect a little late (3 s = 150 ms at 20x)
        assert all(abs(b - a - EVERY) < 3 for a, b in zip(starts, starts[1:], strict=False)), starts
        # between announcements the caller is back in music, still waiting in acd's line
        await s.until(lambda: third.channel.context == "acd-hold", 10)
        assert s.acd.router.calls[third.uniqueid].phase.value == "waiting"


async def test_the_estimate_follows_app_queues_average_of_answered_waits(tmp_path: Path) -> None:
    group = sales(say="position_and_wait", every_seconds=EVERY)
    async with running(tmp_path, [group], {"boris": Answer(after=1), "dmitri": Answer(after=1)}) as s:
        seen = watch(s)
        waits, uids = [], []
        for n, wait in enumerate((80, 10)):  # two callers wait for boris, then talk to him
            colleague = await boris_busy(s)
            call = await s.sim.call(did="5000", caller=f"1555001{n}")
            uids.append(call.uniqueid)
            await s.until(lambda c=call: len(announcements(seen, c.uniqueid)) >= 1, 10)
            await s.clock.sleep(wait)
            await colleague.hangup()
            await s.until(lambda c=call: c.answered.is_set(), 15)
            waits.append(await answered_wait(s, call.uniqueid))
            await call.hangup()
            await s.until(lambda: s.acd.router.agents.status("boris").device.value == "NOT_INUSE", 10)
        first = announcements(seen, uids[0])[0][1]
        assert "queue-holdtime" not in first  # nobody answered yet: no estimate to give
        second = announcements(seen, uids[1])[0][1]
        assert second[:2] == ["queue-youarenext", "queue-holdtime"]
        assert second[2:4] == [str(math.ceil(waits[0] / 60)), "queue-minutes"]  # its whole average still ahead
        assert s.acd.router.hold_average["sales"] == pytest.approx((3 * waits[0] + waits[1]) / 4, abs=0.5)



async def test_a_member_freeing_up_mid_announcement_rings_at_once(tmp_path: Path) -> None:
    group = sales(say="position", every_seconds=EVERY)
    async with running(tmp_path, [group], {"boris": Answer(after=1), "dmitri": Answer(after=1)}) as s:
        s.sim.pbx.features.playback_s = 5.0  # long prompts: the ring lands well inside the announcement
        seen = watch(s)
        colleague = await boris_busy(s)
        call = await s.sim.call(did="5000", caller="15550020")
        # the first announcement starts; boris frees up while it plays
        await s.until(lambda: any(uid == call.uniqueid and app == "Playback" for _, uid, app, _ in seen), 10)
        freed = s.clock.now()
        await colleague.hangup()
        await s.until(lambda: bool(s.rings("boris")), 5)
        assert s.rings("boris")[0].started - freed < 4.0  # not after the announcement's remaining prompts
        await s.until(lambda: call.answered.is_set(), 10)
        assert call.answered_by == "102"
        assert announcements(seen, call.uniqueid) == []  # cut short: it never went back to music

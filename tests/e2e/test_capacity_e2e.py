"""One capacity across channels, through the real service: calls skip an agent whose
chats fill the budget, and an agent talking on the phone is offered no chat until the
call ends. The chats go through the Desk of the same service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .stack import Stack, running

CAPACITY: dict[str, Any] = {}  # [capacity] with its defaults: budget 100, a call 100, a chat 34


def skip_reasons(history: Any) -> dict[str, str]:
    return {e.detail["agent"]: e.detail["reason"] for e in history.events
            if e.kind == "considered" and e.detail["decision"] == "skip"}


async def chats_for(s: Stack, agent: str, count: int) -> list[str]:
    assert s.acd is not None
    ids = [(await s.acd.desk.chat_message("tg", f"tg:{n}", "hello"))[0] for n in range(count)]
    await s.until(lambda: s.acd is not None and s.acd.router.agents.status(agent).other_channels.chats == count, 5)
    return ids


async def test_a_call_skips_the_agent_whose_chats_fill_the_budget_until_a_chat_closes(tmp_path: Path) -> None:
    sales = {"id": "sales", "members": ["anna", "boris"], "mode": "strict", "skip_when_busy_in_other_channels": True}
    async with running(tmp_path, [sales], capacity=CAPACITY,
                       channels=[{"id": "tg", "members": ["anna"], "capacity": 10}]) as s:
        assert s.acd is not None
        chats = await chats_for(s, "anna", 3)
        first = await s.sim.call(did="5000", caller="15550001")
        await s.until(first.answered.is_set, 15)
        assert first.answered_by == "102"  # anna's three chats take her whole budget: boris
        assert not s.rings("anna")
        assert skip_reasons(await s.history(first.uniqueid)) == {
            "anna": "chats take their whole capacity (3 chats: 102 of 100)"}
        await first.hangup()
        s.acd.desk.close_conversation(chats[0])
        await s.until(lambda: s.acd is not None and s.acd.router.agents.status("anna").other_channels.chats == 2, 5)
        second = await s.sim.call(did="5000", caller="15550002")
        await s.until(second.answered.is_set, 15)
        assert second.answered_by == "101"  # two chats leave room for a call


async def test_an_agent_talking_on_the_phone_is_offered_no_chat_until_the_call_ends(tmp_path: Path) -> None:
    async with running(tmp_path, [{"id": "sales", "members": ["anna"]}],
                       channels=[{"id": "tg", "members": ["anna", "boris"]}]) as s:
        assert s.acd is not None
        desk = s.acd.desk
        call = await s.sim.call(did="5000", caller="15550001")
        await s.until(call.answered.is_set, 15)
        await s.until(lambda: desk.router.availability.agent("anna").calls == 1, 5)
        cid, _ = await desk.chat_message("tg", "tg:olga", "hello")
        assert desk.conversation(cid)["offered_to"] == ["boris"]  # type: ignore[index]
        considered = [line for line in await desk.timeline(cid) if line["kind"] == "considered"]
        assert considered[0]["skipped"] == {"anna": "on a phone call"}
        desk.reject(cid, "boris")  # boris passes: nobody else can take it, it waits
        assert desk.conversation(cid)["phase"] == "waiting"  # type: ignore[index]
        await call.hangup()
        await s.until(lambda: desk.conversation(cid)["offered_to"] == ["anna"], 5)  # type: ignore[index]


async def test_after_a_restart_each_side_knows_the_others_load_again(tmp_path: Path) -> None:
    sales = {"id": "sales", "members": ["anna", "boris"], "skip_when_busy_in_other_channels": True}
    async with running(tmp_path, [sales], capacity=CAPACITY,
                       channels=[{"id": "tg", "members": ["anna", "clara"]}]) as s:
        assert s.acd is not None
        await chats_for(s, "anna", 3)  # strict: the first three to anna, budget full
        call = await s.sim.call(did="5000", caller="15550001")
        await s.until(call.answered.is_set, 15)
        assert call.answered_by == "102"
        await s.stop_acd()
        acd = await s.start_acd()
        # chats from the desk's snapshot, calls from Asterisk's resync: each told to the other side
        await s.until(lambda: acd.router.agents.status("anna").other_channels.chats == 3, 5)
        await s.until(lambda: acd.desk.router.availability.agent("boris").calls == 1, 5)

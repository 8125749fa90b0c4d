"""The project's [acd-announce] context in the simulator: what a waiting caller hears,
as recording 16 shows it (Newexten per prompt, back to music by Goto)."""

from __future__ import annotations

from acd.sim import NeverAnswer, Simulator

from .amiclient import AmiClient
from .test_calls import hold, ring


async def announce(ami: AmiClient, chan: str, position: str, wait: str, message: str = "") -> None:
    for variable, value in (("ACD_POSITION", position), ("ACD_WAIT_MINUTES", wait), ("ACD_ANNOUNCEMENT", message)):
        await ami.action("Setvar", Channel=chan, Variable=variable, Value=value)
    response = await ami.action("Redirect", Channel=chan, Context="acd-announce", Exten="s", Priority="1")
    assert response.get("Message") == "Redirect successful"


async def heard(ami: AmiClient, chan: str, start: int) -> list[str]:
    """The prompts played in acd-announce from frame ``start`` until the music is back."""
    back = await ami.wait(lambda f: f.event == "MusicOnHoldStart" and f.get("Channel") == chan, start=start)
    frames = ami.frames[start:ami.frames.index(back)]
    return [f"{f.get('Application')}({f.get('AppData')})" for f in frames
            if f.event == "Newexten" and f.get("Context") == "acd-announce"
            and f.get("Application") in ("Playback", "SayNumber")]


async def test_position_estimate_and_message_then_back_to_music(sim: Simulator, ami_all: AmiClient) -> None:
    chan = await hold(sim, ami_all)
    start = len(ami_all.frames)
    await announce(ami_all, chan, "3", "2", "custom/sales-busy")
    assert await heard(ami_all, chan, start) == [
        "Playback(queue-thereare)", "SayNumber(3)", "Playback(queue-callswaiting)",
        "Playback(queue-holdtime)", "SayNumber(2)", "Playback(queue-minutes)",
        "Playback(queue-thankyou)", "Playback(custom/sales-busy)"]
    # 16: the music stopped for the Redirect and starts again in acd-hold
    assert ami_all.events("MusicOnHoldStop", Channel=chan)


async def test_first_in_line_with_under_a_minute_left(sim: Simulator, ami_all: AmiClient) -> None:
    chan = await hold(sim, ami_all)
    start = len(ami_all.frames)
    await announce(ami_all, chan, "1", "0")
    assert await heard(ami_all, chan, start) == [
        "Playback(queue-youarenext)", "Playback(queue-holdtime)", "Playback(queue-less-than)", "SayNumber(1)",
        "Playback(queue-minute)", "Playback(queue-thankyou)"]


async def test_one_minute_is_singular_and_a_message_alone_has_no_thanks(sim: Simulator, ami_all: AmiClient) -> None:
    chan = await hold(sim, ami_all)
    start = len(ami_all.frames)
    await announce(ami_all, chan, "", "1")
    assert await heard(ami_all, chan, start) == [
        "Playback(queue-holdtime)", "SayNumber(1)", "Playback(queue-minute)", "Playback(queue-thankyou)"]
    start = len(ami_all.frames)
    await announce(ami_all, chan, "", "", "custom/wait")
    assert await heard(ami_all, chan, start) == ["Playback(custom/wait)"]


async def test_a_ring_takes_the_caller_out_of_an_announcement_at_once(sim: Simulator, ami_all: AmiClient) -> None:
    sim.phone("101").behaviour = NeverAnswer()
    chan = await hold(sim, ami_all)
    await announce(ami_all, chan, "12", "5")
    await ami_all.event("Newexten", Channel=chan, Application="SayNumber")
    await ring(ami_all, chan, "PJSIP/101")
    await ami_all.event("DialBegin", Channel=chan)
    # the rest of the announcement never plays, and no Goto brings the caller back to hold
    after = ami_all.frames[ami_all.frames.index(ami_all.events("DialBegin", Channel=chan)[0]):]
    assert not [f for f in after if f.event == "Newexten" and f.get("Context") in ("acd-announce", "acd-hold")]

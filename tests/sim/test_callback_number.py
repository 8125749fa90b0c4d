"""The project's [acd-callback-number] context in the simulator: Read() takes the digits,
you-entered and SayDigits() read them back, a second Read() takes the confirmation, and a
UserEvent tells acd; then back to music. Read and SayDigits have no recording: the sim
follows Asterisk's documentation (acd/sim/digits.py, tests/fixtures/ami/README.md)."""

from __future__ import annotations

from typing import Any

from acd.sim import Simulator

from .amiclient import AmiClient


async def waiting(sim: Simulator, ami: AmiClient) -> Any:
    call = await sim.call("5000", "anonymous")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting", Channel=call.channel_name)
    return call


async def ask(ami: AmiClient, chan: str) -> None:
    await ami.action("Setvar", Channel=chan, Variable="ACD_NUMBER_MAX", Value="15")
    response = await ami.action("Redirect", Channel=chan, Context="acd-callback-number", Exten="s", Priority="1")
    assert response.get("Message") == "Redirect successful"


async def in_read(ami: AmiClient, chan: str, nth: int) -> None:
    await ami.wait(lambda f: len([g for g in ami.frames if g.event == "Newexten" and g.get("Channel") == chan
                                  and g.get("Application") == "Read"]) >= nth, timeout=10)


async def entered(ami: AmiClient, chan: str) -> Any:
    return await ami.event("UserEvent", timeout=10, UserEvent="ACDCallbackNumber", Channel=chan)


async def test_typed_digits_are_read_back_and_confirmed_then_music(sim: Simulator, ami_all: AmiClient) -> None:
    call = await waiting(sim, ami_all)
    chan = call.channel_name
    await ask(ami_all, chan)
    await in_read(ami_all, chan, 1)
    for key in "4930123456#":
        await call.press(key)
    await in_read(ami_all, chan, 2)
    await call.press("1")
    event = await entered(ami_all, chan)
    assert (event.get("ACDNumber"), event.get("ACDConfirm")) == ("4930123456", "1")
    said = [f"{f.get('Application')}({f.get('AppData')})" for f in ami_all.events("Newexten", Channel=chan)
            if f.get("Application") in ("Playback", "SayDigits")]
    assert said[-2:] == ["Playback(you-entered)", "SayDigits(4930123456)"]
    # the keys still show as DTMF (transcripts 14): 11 for the number, 1 to confirm
    assert len(ami_all.events("DTMFEnd", Channel=chan)) == 12
    # back to music after the UserEvent
    await ami_all.wait(lambda f: f.event == "MusicOnHoldStart" and f.get("Channel") == chan,
                       start=ami_all.frames.index(event))


async def test_silence_after_the_digits_keeps_them_and_no_key_is_no_confirmation(
        sim: Simulator, ami_all: AmiClient) -> None:
    call = await waiting(sim, ami_all)
    chan = call.channel_name
    await ask(ami_all, chan)
    await in_read(ami_all, chan, 1)
    for key in "0301234":
        await call.press(key)
    # 10 s of silence end the first Read (READSTATUS TIMEOUT, digits kept), 10 more the second
    event = await entered(ami_all, chan)
    assert (event.get("ACDNumber"), event.get("ACDConfirm")) == ("0301234", "")
    statuses = [f.get("Value") for f in ami_all.events("VarSet", Channel=chan, Variable="READSTATUS")]
    assert statuses == ["TIMEOUT", "TIMEOUT"]


async def test_nothing_typed_is_an_empty_number_without_a_read_back(sim: Simulator, ami_all: AmiClient) -> None:
    call = await waiting(sim, ami_all)
    chan = call.channel_name
    await ask(ami_all, chan)
    event = await entered(ami_all, chan)
    assert (event.get("ACDNumber"), event.get("ACDConfirm")) == ("", "")
    assert not [f for f in ami_all.events("Newexten", Channel=chan) if f.get("Application") == "SayDigits"]


async def test_the_caller_hanging_up_during_the_read_ends_the_channel(sim: Simulator, ami_all: AmiClient) -> None:
    call = await waiting(sim, ami_all)
    chan = call.channel_name
    await ask(ami_all, chan)
    await in_read(ami_all, chan, 1)
    await call.press("4")
    await call.hangup()
    await ami_all.event("Hangup", Channel=chan)
    assert not ami_all.events("UserEvent", UserEvent="ACDCallbackNumber", Channel=chan)

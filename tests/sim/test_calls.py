"""Calls through the project's own dialplan (asterisk/extensions.conf), as the ACD drives them."""

from __future__ import annotations

from acd.sim import Absent, Answer, Busy, NeverAnswer, Simulator, Unreachable

from .amiclient import AmiClient


async def hold(sim: Simulator, ami: AmiClient, did: str = "5000", **kw: object) -> str:
    call = await sim.call(did, "15550001", **kw)  # type: ignore[arg-type]
    await ami.event("UserEvent", UserEvent="ACDCallWaiting", Channel=call.channel_name)
    return call.channel_name


async def ring(ami: AmiClient, chan: str, dialstring: str, attempt: str = "1", timeout: str | None = None) -> None:
    await ami.action("Setvar", Channel=chan, Variable="ACD_DIALSTRING", Value=dialstring)
    if timeout is not None:
        await ami.action("Setvar", Channel=chan, Variable="ACD_TIMEOUT", Value=timeout)
    response = await ami.action("Redirect", Channel=chan, Context="acd-dial", Exten=attempt, Priority="1")
    assert response.get("Message") == "Redirect successful"


async def test_held_call_waits_in_music_with_its_did(sim: Simulator, ami: AmiClient) -> None:
    call = await sim.call("5000", "15550001")
    waiting = await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    assert waiting.get("ACDDID") == "5000" and waiting.get("ChanVariable") == "ACD_DID=5000"
    moh = await ami.event("MusicOnHoldStart", Channel=call.channel_name)
    assert moh.get("Context") == "acd-hold" and moh.get("Class") == "default"
    # 17: the UserEvent comes half a second (scaled) after the answer
    assert call.channel is not None and call.channel.answered_at is not None


async def test_two_phones_rung_together_second_answers(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = NeverAnswer()
    sim.phone("102").behaviour = Answer(after=1)
    chan = await hold(sim, ami)
    await ring(ami, chan, "PJSIP/101&PJSIP/102")
    answer = await ami.event("DialEnd", DialStatus="ANSWER", Channel=chan)
    assert (answer.get("DestChannel") or "").startswith("PJSIP/102-")
    cancel = await ami.event("DialEnd", DialStatus="CANCEL", Channel=chan)
    loser = cancel.get("DestChannel")
    hangup = await ami.event("Hangup", Channel=loser or "")
    assert hangup.get("Cause") == "26"
    call = sim.phone("102").answered
    assert call and sim.phone("101").rings[-1].outcome == "answered_elsewhere"
    assert sim.phone("102").current_call is not None


async def test_no_answer_returns_caller_to_hold_with_dial_result(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = NeverAnswer()
    chan = await hold(sim, ami)
    await ring(ami, chan, "PJSIP/101", timeout="3")
    result = await ami.event("UserEvent", UserEvent="ACDDialResult")
    assert result.get("DialStatus") == "NOANSWER" and result.get("ACDAttempt") == "1"
    await ami.event("MusicOnHoldStart", Channel=chan, Context="acd-hold", timeout=2)
    period = sim.phone("101").rings[-1]
    assert period.outcome == "cancelled" and period.duration is not None and 2.5 < period.duration < 3.5


async def test_busy_phone(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = Busy()
    chan = await hold(sim, ami)
    await ring(ami, chan, "PJSIP/101")
    request = await ami.event("HangupRequest", Cause="17")
    assert request.get("TechCause") == "486"
    result = await ami.event("UserEvent", UserEvent="ACDDialResult")
    assert result.get("DialStatus") == "BUSY"


async def test_unreachable_phone_fails_at_once_without_a_channel(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = Unreachable()
    await ami.event("DeviceStateChange", Device="PJSIP/101", State="UNAVAILABLE")
    chan = await hold(sim, ami)
    await ring(ami, chan, "PJSIP/101")
    result = await ami.event("UserEvent", UserEvent="ACDDialResult")
    assert result.get("DialStatus") == "CHANUNAVAIL"
    assert not ami.events("DialBegin") and len(ami.events("Newchannel")) == 1


async def test_absent_phone_rings_out_without_dialstate(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = Absent()
    chan = await hold(sim, ami)
    await ring(ami, chan, "PJSIP/101", timeout="2")
    end = await ami.event("DialEnd")
    assert end.get("DialStatus") == "NOANSWER" and end.get("DestChannelStateDesc") == "Down"
    assert not ami.events("DialState") and sim.phone("101").rings == []


async def test_redirect_while_ringing_cancels_the_dial_and_moves_on(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = NeverAnswer()
    sim.phone("102").behaviour = Answer(after=1)
    chan = await hold(sim, ami)
    await ring(ami, chan, "PJSIP/101", attempt="1")
    await ami.event("DialState", Channel=chan)
    await ring(ami, chan, "PJSIP/102", attempt="2")
    cancel = await ami.event("DialEnd", DialStatus="CANCEL")
    assert (cancel.get("DestChannel") or "").startswith("PJSIP/101-")
    await ami.event("DialEnd", DialStatus="ANSWER")
    assert sim.phone("101").rings[-1].outcome == "cancelled"
    assert not ami.events("UserEvent", UserEvent="ACDDialResult")  # the dialplan jumped away
    call = sim.channels()[0]
    assert call.exten == "2"


async def test_caller_abandons_while_ringing(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = NeverAnswer()
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/101")
    await ami.event("DialState")
    await call.hangup()
    await call.ended.wait()
    await ami.event("Hangup", Channel=call.channel_name)
    names = [f.event for f in ami.frames if f.event in ("HangupRequest", "DialEnd", "Hangup")]
    assert names[:3] == ["HangupRequest", "DialEnd", "Hangup"]  # README 6
    assert call.hung_up_by == "caller" and call.answered_by is None


async def test_answered_call_and_who_hung_up(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = Answer(after=1, hangup_after=2)
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/101")
    await call.answered.wait()
    assert call.answered_by == "101"
    await call.ended.wait()
    assert call.hung_up_by == "101"


async def test_voicemail_is_left_in_the_mailbox(sim: Simulator, ami: AmiClient) -> None:
    call = await sim.call("5000", "15550001", hangup_after=None)
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ami.action("Setvar", Channel=call.channel_name, Variable="ACD_MAILBOX", Value="101@default")
    await ami.action("Redirect", Channel=call.channel_name, Context="acd-voicemail", Exten="s", Priority="1")
    await sim.clock.sleep(6)
    await call.hangup()
    waiting = await ami.event("MessageWaiting")
    assert waiting.get("Mailbox") == "101@default" and waiting.get("New") == "1"
    await call.ended.wait()
    assert call.voicemail == "101@default"
    count = await ami.action("MailboxCount", Mailbox="101@default")
    assert count.get("NewMessages") == "1"


async def test_forward_through_the_trunk(sim: Simulator, ami: AmiClient) -> None:
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/+4930123@carrier")
    begin = await ami.event("DialBegin")
    assert begin.get("DialString") == "+4930123@carrier"
    await ami.event("DialEnd", DialStatus="ANSWER")
    assert sim.trunk.dialled == ["+4930123"]


async def test_pickup_request_then_pickup_by_the_acd(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = NeverAnswer()
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/101")
    state = await ami.event("DialState")
    target = state.get("DestChannel") or ""
    request = await sim.phone("102").dial("*11")
    ask = await ami.event("UserEvent", UserEvent="ACDPickupRequest")
    assert ask.get("Channel") == request.channel_name and ask.get("ACDTarget") == ""
    await ami.action("Setvar", Channel=request.channel_name, Variable="ACD_PICKUP_TARGET", Value=target)
    await ami.action("Redirect", Channel=request.channel_name, Context="acd-pickup", Exten="take", Priority="1")
    pickup = await ami.event("Pickup")
    assert pickup.get("Channel") == request.channel_name and pickup.get("TargetChannel") == target
    answer = await ami.event("DialEnd", DialStatus="ANSWER")
    assert answer.get("DestChannel") == request.channel_name  # README 11
    await call.answered.wait()
    assert call.answered_by == "102"
    assert sim.phone("101").rings[-1].outcome == "answered_elsewhere"


async def test_group_pickup_with_the_features_code(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = NeverAnswer()
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/101")
    await ami.event("DialState")
    await sim.phone("103").dial("*8")
    await ami.event("Pickup")
    await call.answered.wait()
    assert call.answered_by == "103"


async def test_blind_transfer_from_the_phone(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = Answer(after=1)
    sim.phone("102").behaviour = Answer(after=1)
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/101")
    await call.answered.wait()
    assert await sim.phone("101").transfer_blind("102")
    transfer = await ami.event("BlindTransfer")
    assert transfer.get("Extension") == "102" and transfer.get("Context") == "acd-agents"
    await ami.event("DialEnd", DialStatus="ANSWER", DestCallerIDNum="102")
    assert call.talked_to == ["101", "102"]
    assert sim.phone("101").current_call is None


async def test_attended_transfer_from_the_phone(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = Answer(after=1)
    sim.phone("103").behaviour = Answer(after=1)
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/101")
    await call.answered.wait()
    assert await sim.phone("101").transfer_attended("103")
    await ami.event("LocalBridge")
    await ami.event("DialEnd", DialStatus="ANSWER", DestCallerIDNum="103")
    await sim.phone("101").hangup()
    done = await ami.event("AttendedTransfer")
    assert done.get("DestType") == "Bridge"
    assert call.talked_to == ["101", "103"]


async def test_originate_async_and_sync(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("102").behaviour = Answer(after=1)
    queued = await ami.action("Originate", Channel="PJSIP/102", Application="Wait", Data="1", Async="true",
                              ActionID="orig-1")
    assert queued.get("Message") == "Originate successfully queued"
    result = await ami.event("OriginateResponse", ActionID="orig-1")
    assert result.get("Response") == "Success" and result.get("Reason") == "4"
    missing = await ami.action("Originate", Channel="PJSIP/199", Application="Wait", Data="1")
    assert missing.get("Response") == "Error" and missing.get("Message") == "Originate failed"


async def test_bridge_action_joins_a_held_caller_and_an_agent_leg(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("102").behaviour = Answer(after=1)
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ami.action("Originate", Channel="PJSIP/102", Application="Wait", Data="30", Async="true",
                     ActionID="o")
    leg = (await ami.event("OriginateResponse", ActionID="o")).get("Channel") or ""
    response = await ami.action("Bridge", Channel1=call.channel_name, Channel2=leg, Tone="no")
    assert response.get("Message") == "Channels have been bridged"
    await call.answered.wait()
    assert call.answered_by == "102"


async def test_ami_hangup_and_missing_channel_errors(sim: Simulator, ami: AmiClient) -> None:
    missing = await ami.action("Redirect", Channel="PJSIP/nope-00000000", Context="acd-hold", Exten="s",
                               Priority="1")
    assert missing.get("Message") == "Channel does not exist: PJSIP/nope-00000000"
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    response = await ami.action("Hangup", Channel=call.channel_name, Cause="16")
    assert response.get("Message") == "Channel Hungup"
    await call.ended.wait()
    assert call.hung_up_by == "ami"


async def test_device_states_follow_the_phone(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = Answer(after=1, hangup_after=1)
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/101")
    await call.ended.wait()
    await ami.event("DeviceStateChange", Device="PJSIP/101", State="NOT_INUSE")
    states = [f.get("State") for f in ami.events("DeviceStateChange", Device="PJSIP/101")]
    assert states == ["RINGING", "INUSE", "NOT_INUSE"]


async def test_hanging_up_one_ringing_leg_keeps_the_others_ringing(sim: Simulator, ami: AmiClient) -> None:
    sim.phone("101").behaviour = NeverAnswer()
    sim.phone("102").behaviour = Answer(after=3)
    chan = await hold(sim, ami)
    await ring(ami, chan, "PJSIP/101&PJSIP/102")
    first = await ami.event("DialState", Channel=chan)
    leg = first.get("DestChannel") or ""
    if not leg.startswith("PJSIP/101-"):
        leg = (await ami.wait(lambda f: f.event == "DialState" and (f.get("DestChannel") or "").startswith(
            "PJSIP/101-"))).get("DestChannel") or ""
    await ami.action("Hangup", Channel=leg)
    end = await ami.event("DialEnd", DestChannel=leg)
    assert end.get("DialStatus") == "NOANSWER"  # assumed from app_dial's cause mapping
    await ami.event("DialEnd", DialStatus="ANSWER")
    assert sim.phone("101").rings[-1].outcome == "cancelled"
    assert sim.channels()[0].name == chan


async def test_the_channel_list_gives_each_channel_its_age_as_asterisk_does(sim: Simulator, ami: AmiClient) -> None:
    # Duration: whole seconds since the channel was made, cut, as HH:MM:SS (01: 1.002 s ->
    # "00:00:01"; 14: 7.49 s -> "00:00:07"); a ringing agent leg counts from its own making
    sim.phone("101").behaviour = NeverAnswer()
    chan = await hold(sim, ami)
    await sim.clock.sleep(3)
    await ring(ami, chan, "PJSIP/101")
    await ami.event("DialState", Channel=chan)
    await sim.clock.sleep(4.5)
    made = {c.name: c.created for c in sim.channels()}
    before = sim.clock.now()
    await ami.action("CoreShowChannels", ActionID="csc")
    await ami.event("CoreShowChannelsComplete", ActionID="csc")
    after = sim.clock.now()
    listed = {f.get("Channel"): f.get("Duration") or "" for f in ami.events("CoreShowChannel", ActionID="csc")}
    assert set(listed) == set(made) and len(made) == 2
    for name, duration in listed.items():
        h, m, s = duration.split(":")
        assert len(h) == len(m) == len(s) == 2
        age = int(h) * 3600 + int(m) * 60 + int(s)
        assert int(before - made[name]) <= age <= int(after - made[name])
    leg = next(name for name in listed if name.startswith("PJSIP/101-"))
    assert listed[leg] in ("00:00:04", "00:00:05") and listed[chan] in ("00:00:07", "00:00:08", "00:00:09")


async def test_an_ami_hangup_of_a_caller_talking_through_dial_ends_the_call(sim: Simulator, ami: AmiClient) -> None:
    # the Dial that runs a talking caller must notice the soft hang-up: it used to loop
    # without yielding (sleep returns at once for a channel asked to hang up), which froze
    # the whole simulator
    sim.phone("101").behaviour = Answer(after=1)
    call = await sim.call("5000", "15550001")
    await ami.event("UserEvent", UserEvent="ACDCallWaiting")
    await ring(ami, call.channel_name, "PJSIP/101")
    await ami.event("BridgeEnter", Channel=call.channel_name)
    response = await ami.action("Hangup", Channel=call.channel_name, Cause="16")
    assert response.get("Message") == "Channel Hungup"
    await ami.event("Hangup", Channel=call.channel_name, timeout=5)
    leg = await ami.wait(lambda f: f.event == "Hangup" and (f.get("Channel") or "").startswith("PJSIP/101-"),
                         timeout=5)
    assert leg.get("Cause") == "16"
    assert sim.phone("101").current_call is None

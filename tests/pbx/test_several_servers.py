"""The AMI adapter with several Asterisk servers: members on another server are rung
through the trunk to it and recognised behind it; each command reaches the server
its call is on; the core hears (server, Uniqueid) keys."""

from __future__ import annotations

import asyncio

from acd.core.commands import CallBack, Hold, PickUp, RefusePickup, Ring
from acd.core.events import CallArrived, DeviceState, DeviceStateChanged, MemberAnswered, MemberRinging
from acd.core.model import Agent, RoutingConfig
from acd.pbx.actions import setvar, translate
from acd.pbx.asterisk import AsteriskPbx
from acd.pbx.dialplan import Dialplan
from acd.pbx.servers import AsteriskServers
from acd.pbx.tracker import Tracker

CONFIG = RoutingConfig(agents={
    "anna": Agent("anna", "Anna", "PJSIP/101", "101", server="berlin"),
    "max": Agent("max", "Max", "PJSIP/201", "201", server="munich"),
})
BERLIN = Dialplan(server="berlin", trunks={"munich": "to-munich"})
CALLER = "PJSIP/trunk-00000001"


def berlin_with_a_call() -> Tracker:
    tracker = Tracker(CONFIG, BERLIN)
    tracker.handle({"Event": "Newchannel", "Channel": CALLER, "Uniqueid": "1.1", "Linkedid": "1.1",
                    "Context": "acd-inbound", "Exten": "5000", "CallerIDNum": "15550001"})
    tracker.handle({"Event": "UserEvent", "UserEvent": "ACDCallWaiting", "Channel": CALLER, "Uniqueid": "1.1",
                    "ACDDID": "5000"})
    return tracker


def test_a_member_on_another_server_is_dialled_through_the_trunk_to_it() -> None:
    actions = translate(Ring("1.1", 1, ("anna", "max"), 20), berlin_with_a_call(), CONFIG, BERLIN)
    assert actions[0] == setvar(CALLER, "ACD_DIALSTRING", "PJSIP/101&PJSIP/201@to-munich")


def test_a_member_on_a_server_no_trunk_leads_to_is_not_dialled() -> None:
    alone = Dialplan(server="berlin")
    actions = translate(Ring("1.1", 1, ("anna", "max"), 20), berlin_with_a_call(), CONFIG, alone)
    assert actions[0] == setvar(CALLER, "ACD_DIALSTRING", "PJSIP/101")


def test_the_trunk_leg_rings_and_answers_for_the_member_behind_it() -> None:
    tracker = berlin_with_a_call()
    leg = {"Channel": CALLER, "Uniqueid": "1.1", "Context": "acd-dial", "Exten": "1",
           "DestChannel": "PJSIP/to-munich-00000002", "DestUniqueid": "1.2", "DestLinkedid": "1.1"}
    assert tracker.handle({"Event": "DialBegin", **leg, "DialString": "201@to-munich"}) == []
    assert tracker.handle({"Event": "DialState", **leg, "DialStatus": "RINGING"}) == [MemberRinging("1.1", 1, "max")]
    assert tracker.handle({"Event": "DialEnd", **leg, "DialStatus": "ANSWER"}) == [MemberAnswered("1.1", 1, "max")]


def test_a_phone_of_the_same_name_on_another_server_is_not_the_agent() -> None:
    tracker = Tracker(CONFIG, BERLIN)  # berlin has a PJSIP/201 of its own, not max's
    assert tracker.handle({"Event": "DeviceStateChange", "Device": "PJSIP/201", "State": "INUSE"}) == []
    assert tracker.handle({"Event": "DeviceStateChange", "Device": "PJSIP/101", "State": "INUSE"}) == [
        DeviceStateChanged("anna", DeviceState.INUSE)]


class Sent:
    def __init__(self, name: str) -> None:
        self.server = name
        self.commands: list[object] = []

    def execute(self, command: object) -> None:
        self.commands.append(command)


def servers() -> tuple[AsteriskServers, Sent, Sent]:
    berlin, munich = Sent("berlin"), Sent("munich")
    return AsteriskServers([berlin, munich]), berlin, munich  # type: ignore[list-item]


def test_each_command_goes_to_the_server_its_call_is_on() -> None:
    both, berlin, munich = servers()
    for command in (Hold("7.1"), Hold("7.1@munich"), CallBack("req-1", 1, "max", "+4930123", 20, 30)):
        both.execute(command)  # type: ignore[arg-type]
    assert berlin.commands == [Hold("7.1"), CallBack("req-1", 1, "max", "+4930123", 20, 30)]  # callbacks: the first
    assert munich.commands == [Hold("7.1@munich")]


def test_a_pickup_of_a_call_ringing_on_another_server_is_refused() -> None:
    both, berlin, munich = servers()
    both.execute(PickUp("9.9@munich", "7.1", "anna", "max"))
    assert munich.commands == [RefusePickup("9.9@munich", "the call rings on another Asterisk server")]
    assert berlin.commands == []


def test_events_carry_the_server_and_commands_go_back_as_uniqueids() -> None:
    heard: list[object] = []
    munich = AsteriskPbx(CONFIG, host="127.0.0.1", port=1, username="acd", secret="",
                         dialplan=Dialplan(server="munich", trunks={"berlin": "to-berlin"}), first_server="berlin")
    munich.attach(heard.append)
    munich._emit([CallArrived("1.1", "5000", "15550001")])
    assert heard == [CallArrived("1.1@munich", "5000", "15550001", server="munich")]
    assert munich._to_uniqueids(Hold("1.1@munich")) == Hold("1.1")


def test_the_only_server_s_events_keep_their_uniqueids_and_a_call_names_its_server() -> None:
    heard: list[object] = []
    alone = AsteriskPbx(CONFIG, host="127.0.0.1", port=1, username="acd", secret="",
                        dialplan=Dialplan(server="berlin"))
    alone.attach(heard.append)
    alone._emit([CallArrived("1.1", "5000", "15550001"), MemberRinging("1.1", 1, "anna")])
    alone._emit([])
    assert heard == [CallArrived("1.1", "5000", "15550001", server="berlin"), MemberRinging("1.1", 1, "anna")]
    assert alone._to_uniqueids(Hold("1.1")) == Hold("1.1")


def test_a_trunk_leg_ringing_across_a_reconnect_still_answers_for_its_member() -> None:
    tracker = berlin_with_a_call()
    leg = {"Channel": CALLER, "Uniqueid": "1.1", "Context": "acd-dial", "Exten": "1",
           "DestChannel": "PJSIP/to-munich-00000002", "DestUniqueid": "1.2", "DestLinkedid": "1.1"}
    tracker.handle({"Event": "DialBegin", **leg, "DialString": "201@to-munich", "DestChannelStateDesc": "Ringing"})

    def item(**fields: str) -> dict[str, str]:
        return {"Event": "CoreShowChannel", "ActionID": "r", "BridgeId": "", **fields}

    resynced = tracker.resync([  # CoreShowChannel does not say whom a trunk leg rings
        item(Channel=CALLER, Uniqueid="1.1", Linkedid="1.1", Context="acd-dial", Exten="1",
             ChannelStateDesc="Up", Application="Dial", ChanVariable="ACD_DID=5000"),
        item(Channel="PJSIP/to-munich-00000002", Uniqueid="1.2", Linkedid="1.1", Context="acd-from-server",
             Exten="", ChannelStateDesc="Ringing", Application="AppDial"),
    ])[-1]
    assert resynced.calls[0].agents == ("max",)  # type: ignore[union-attr]
    assert tracker.handle({"Event": "DialEnd", **leg, "DialStatus": "ANSWER"}) == [MemberAnswered("1.1", 1, "max")]


async def test_a_servers_agents_are_offline_until_it_is_reached() -> None:
    heard: list[object] = []
    munich = AsteriskPbx(CONFIG, host="127.0.0.1", port=1, username="acd", secret="",  # nobody answers there
                         dialplan=Dialplan(server="munich", trunks={"berlin": "to-berlin"}), first_server="berlin")
    munich.attach(heard.append)
    task = asyncio.create_task(munich.run())
    await asyncio.sleep(0.05)
    munich.close()
    await asyncio.wait_for(task, 5)
    assert heard == [DeviceStateChanged("max", DeviceState.UNAVAILABLE)]  # anna is berlin's

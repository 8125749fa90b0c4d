"""Pickup (intercept), manual transfers and resynchronisation after a reconnect."""

from acd.core.commands import PickUp, RefusePickup, ReportManualTransfer, Ring, StartTimer
from acd.core.events import (
    AgentLegHungUp,
    CallArrived,
    LiveCall,
    MemberAnswered,
    MemberRinging,
    PickupRequested,
    Resynced,
    TransferFailed,
    TransferredByHand,
)
from acd.core.model import Mode

from .harness import Harness, config, group, only


def ringing_at_anna(h: Harness, call_id: str = "c1") -> None:
    h.send(CallArrived(call_id, "5000", "15550001"))
    h.send(MemberRinging(call_id, 1, "anna"))


def test_colleague_picks_up_a_call_ringing_in_a_group_that_allows_it() -> None:
    h = Harness(config(group(Mode.STRICT, allow_pickup=True)))
    ringing_at_anna(h)
    out = h.send(PickupRequested("req-1", "boris"))
    assert only(out, PickUp) == [PickUp("req-1", "c1", "anna", "boris")]
    h.send(MemberAnswered("c1", 1, "boris", picked_up_from="anna"))
    answered = h.records("answered")[0].detail
    assert answered["agent"] == "boris" and answered["picked_up_from"] == "anna"


def test_pickup_is_refused_cleanly_where_the_group_forbids_it_and_the_call_keeps_ringing() -> None:
    h = Harness(config(group(Mode.STRICT, allow_pickup=False)))
    ringing_at_anna(h)
    out = h.send(PickupRequested("req-1", "boris"))
    assert only(out, RefusePickup) == [RefusePickup("req-1", "the group does not allow call pickup")]
    assert h.router.calls["c1"].ringing == {"anna"}


def test_directed_pickup_takes_the_call_ringing_at_the_named_colleague() -> None:
    h = Harness(config(group(Mode.ALL, allow_pickup=True, members=("anna", "boris", "clara"))))
    h.send(CallArrived("c1", "5000", "1"))
    h.send(MemberRinging("c1", 1, "anna"))
    h.send(MemberRinging("c1", 1, "clara"))
    out = h.send(PickupRequested("req-1", "dmitri", target_agent="clara"))
    assert only(out, RefusePickup)  # dmitri is not a member of the group
    h2 = Harness(config(group(Mode.STRICT, allow_pickup=True, members=("anna", "boris", "clara"))))
    ringing_at_anna(h2)
    taken = only(h2.send(PickupRequested("r", "clara", target_agent="anna")), PickUp)
    assert taken == [PickUp("r", "c1", "anna", "clara")]
    assert only(h2.send(PickupRequested("r2", "clara", target_agent="boris")), RefusePickup)


def test_blind_transfer_reports_the_new_agent_and_frees_the_old_one() -> None:
    h = Harness(config(group(Mode.STRICT, wrapup_s=0)))
    ringing_at_anna(h)
    h.send(MemberAnswered("c1", 1, "anna"))
    h.send(AgentLegHungUp("c1", "anna"))  # a blind transfer hangs the transferer up at once
    out = h.send(TransferredByHand("c1", "clara", "blind"))
    assert only(out, ReportManualTransfer) == [ReportManualTransfer("c1", "15550001", "anna", "clara", "blind")]
    assert h.router.agents.status("anna").calls == set()
    assert h.router.agents.status("clara").calls == {"c1"}


def test_attended_transfer_reports_once() -> None:
    h = Harness(config(group(Mode.STRICT)))
    ringing_at_anna(h)
    h.send(MemberAnswered("c1", 1, "anna"))
    first = h.send(TransferredByHand("c1", "clara", "attended"))
    again = h.send(TransferredByHand("c1", "clara", "attended"))
    assert len(only(first, ReportManualTransfer)) == 1 and only(again, ReportManualTransfer) == []


def test_a_failed_transfer_brings_the_caller_back_to_the_group() -> None:
    h = Harness(config(group(Mode.STRICT)))
    ringing_at_anna(h)
    h.send(MemberAnswered("c1", 1, "anna"))
    h.send(AgentLegHungUp("c1", "anna"))
    out = h.send(TransferFailed("c1"))
    assert [r.agent_ids for r in only(out, Ring)] == [("anna",)]


def test_resync_forgets_calls_that_ended_unseen_and_routes_waiting_callers_again() -> None:
    h = Harness(config(group(Mode.STRICT)))
    ringing_at_anna(h, "gone")
    out = h.send(Resynced((LiveCall("new", "5000", "15550002", "waiting"),)))
    assert "gone" not in h.router.calls
    assert h.records("ended", "gone")[0].detail["by"] == "unknown"
    assert [r.agent_ids for r in only(out, Ring)] == [("anna",)]  # anna was freed by the lost call


def test_resync_adopts_a_ringing_call_after_a_restart_and_counts_rings_again() -> None:
    h = Harness(config(group(Mode.STRICT, rings=2)))
    out = h.send(Resynced((LiveCall("c1", "5000", "1", "ringing", agents=("boris",), attempt=4),)))
    assert only(out, Ring) == []  # it already rings: do not disturb it
    assert only(out, StartTimer)[0].key == "ring|c1|4"
    nxt = only(h.advance(10), Ring)
    assert nxt[0].agent_ids == ("anna",) and nxt[0].attempt == 5


def test_resync_adopts_a_connected_call() -> None:
    h = Harness(config(group(Mode.STRICT)))
    h.send(Resynced((LiveCall("c1", "5000", "1", "connected", agents=("clara",)),)))
    assert h.router.agents.status("clara").calls == {"c1"}
    assert only(h.send(CallArrived("c2", "5000", "2")), Ring)[0].agent_ids == ("anna",)


def test_a_caller_the_crm_knows_rings_the_owner_first_then_the_group() -> None:
    h = Harness(config(group(Mode.STRICT, rings=2)))
    first = only(h.send(CallArrived("c1", "5000", "15550001", owner_agent="clara")), Ring)
    assert first[0].agent_ids == ("clara",)
    assert h.records("considered")[0].detail["reason"] == "client's owner"
    h.send(MemberRinging("c1", 1, "clara"))
    nxt = only(h.advance(10), Ring)
    assert nxt[0].agent_ids == ("anna",)  # the owner did not answer: the group as usual
    h.advance(10)  # anna, then boris; clara was already tried in this pass
    assert [r.agent_ids for r in only(h.log, Ring)] == [("clara",), ("anna",), ("boris",)]


def test_a_busy_owner_is_skipped_with_the_reason_logged() -> None:
    from acd.core.events import DeviceState, DeviceStateChanged
    h = Harness(config(group(Mode.STRICT)))
    h.send(DeviceStateChanged("clara", DeviceState.INUSE))
    first = only(h.send(CallArrived("c1", "5000", "15550001", owner_agent="clara")), Ring)
    assert first[0].agent_ids == ("anna",)
    assert h.records("considered")[0].detail["reason"] == "client's owner: busy"


def test_owner_first_can_be_switched_off_per_group() -> None:
    h = Harness(config(group(Mode.STRICT, owner_first=False)))
    first = only(h.send(CallArrived("c1", "5000", "15550001", owner_agent="clara")), Ring)
    assert first[0].agent_ids == ("anna",)


def test_the_intercept_button_rings_the_supervisor_members_phone() -> None:
    h = Harness(config(group(Mode.STRICT, allow_pickup=True)))
    ringing_at_anna(h)
    out = h.send(PickupRequested("web-1", "clara", via="web"))
    assert only(out, PickUp) == [PickUp("web-1", "c1", "anna", "clara", "web")]


def test_intercept_takes_exactly_the_call_clicked_not_the_longest_waiting() -> None:
    h = Harness(config(group(Mode.STRICT, allow_pickup=True, members=("anna", "boris", "clara"))))
    ringing_at_anna(h, "older")
    h.send(CallArrived("newer", "5000", "15550002"))  # anna is ringing: boris gets it
    h.send(MemberRinging("newer", 1, "boris"))
    out = h.send(PickupRequested("web-1", "clara", via="web", call_id="newer"))
    assert only(out, PickUp) == [PickUp("web-1", "newer", "boris", "clara", "web")]


def test_intercept_of_a_call_no_longer_ringing_is_refused_with_the_reason() -> None:
    h = Harness(config(group(Mode.STRICT, allow_pickup=True)))
    ringing_at_anna(h, "c1")
    ringing_at_anna(h, "c2")
    h.send(MemberAnswered("c2", 1, "anna"))
    out = h.send(PickupRequested("web-1", "boris", via="web", call_id="c2"))
    assert only(out, PickUp) == []
    assert only(out, RefusePickup) == [RefusePickup("web-1", "the call is no longer ringing")]


def test_intercept_is_refused_to_an_agent_on_a_call() -> None:
    h = Harness(config(group(Mode.ALL, allow_pickup=True, members=("anna", "boris"))))
    h.send(CallArrived("talk", "5000", "1"))
    h.send(MemberAnswered("talk", 1, "boris"))
    ringing_at_anna(h, "c2")
    out = h.send(PickupRequested("web-1", "boris", via="web", call_id="c2"))
    assert only(out, RefusePickup) == [RefusePickup("web-1", "you are on a call")]


def test_resync_counts_the_rings_of_an_adopted_call_from_when_its_phones_began_to_ring() -> None:
    # 3 rings of 5 s; acd came back 6 s into boris's ring: 9 s are left, not 15
    h = Harness(config(group(Mode.STRICT, rings=3)))
    out = h.send(Resynced((LiveCall("c1", "5000", "1", "ringing", agents=("boris",), attempt=4, ringing_s=6),)))
    assert only(out, StartTimer) == [StartTimer("ring|c1|4", 9)]
    assert h.router.calls["c1"].ring_started == h.now - 6
    assert only(h.advance(8.9), Ring) == []
    nxt = only(h.advance(0.2), Ring)
    assert nxt[0].agent_ids == ("anna",) and nxt[0].attempt == 5
    assert h.records("no_answer", "c1")[0].detail["agent"] == "boris"


def test_resync_counts_the_time_between_the_pbx_listing_a_call_and_acd_applying_the_list() -> None:
    # boris's leg was 6 s old when Asterisk listed it; the list reached the router 4 s later
    # (device states, the history lookup, a loaded machine): 5 s are left of his 15, not 9
    h = Harness(config(group(Mode.STRICT, rings=3)))
    listed = LiveCall("c1", "5000", "1", "ringing", agents=("boris",), attempt=4, ringing_s=6)
    out = h.send(Resynced((listed,), listed_at=h.now - 4))
    assert only(out, StartTimer) == [StartTimer("ring|c1|4", 5)]
    assert h.router.calls["c1"].ring_started == h.now - 10


def test_resync_gives_up_at_once_a_member_who_rang_the_whole_ring_time_unseen() -> None:
    h = Harness(config(group(Mode.STRICT, rings=3)))
    out = h.send(Resynced((LiveCall("c1", "5000", "1", "ringing", agents=("boris",), attempt=4, ringing_s=40),)))
    assert only(out, StartTimer) == [StartTimer("ring|c1|4", 0)]
    assert only(h.advance(0), Ring)[0].agent_ids == ("anna",)

"""Pickup, blind transfer and attended transfer, with the event order of 09 and 10.

- Pickup (README 11): the picking phone's channel takes the ringing leg's place in
  the Dial: Pickup event, the caller's DialEnd ANSWER names the picker, the rung leg
  hangs up (Cause 26 with PickupChan, 16 with the features.conf code).
- Blind transfer (README 12): Unhold, BlindTransfer, the transferer hangs up, the
  transferee runs the target extension (a fresh Dial).
- Attended transfer (README 12): the atxfer feature code and digits as DTMF, a
  Local/<exten>@<context> pair dials the target, hanging up the transferer merges the
  bridges (BridgeMerge, AttendedTransfer). The Local pair stays in the path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .channels import RINGING, UP, Bridge, Channel
from .pbx import Pbx

if TYPE_CHECKING:
    from .dial import Dial


# ---------------------------------------------------------------- pickup

def find_ringing(pbx: Pbx, picker: Channel, targets: list[str], by_group: bool) -> Channel | None:
    from .dial import Dial

    for chan in sorted(pbx.channels.values(), key=lambda c: c.seq):
        if chan.hungup or chan.state != RINGING or not isinstance(chan.dialled_by, Dial):
            continue
        if chan.dialled_by.result is not None or chan is picker:
            continue
        if targets and not any(chan.name == t or chan.name.startswith(t + "-") or chan.name.startswith(t)
                               for t in targets):
            continue
        if by_group and not (chan.callgroup & picker.pickupgroup):
            continue
        return chan
    return None


async def pickup(pbx: Pbx, picker: Channel, targets: list[str], by_group: bool, feature_code: bool = False) -> bool:
    """Answer the picker and take over a ringing Dial leg. False when nothing rings."""
    target = find_ringing(pbx, picker, targets, by_group)
    if target is None:
        return False
    dial: Dial = target.dialled_by
    caller = dial.caller
    pbx.set_connected(picker, caller.caller_num, caller.caller_name)
    if picker.state != UP:
        pbx.set_state(picker, UP)
        # README 11 / 17: the Pickup event follows the picker's answer by 500 ms
        delay = pbx.features.answer_delay_media if picker.media else pbx.features.answer_delay
        if not await pbx.sleep(picker, delay):
            return False
    if target.hungup or target.state != RINGING or dial.result is not None:
        return False
    before_picker = picker.snapshot(pbx.channelvars)
    before_target = target.snapshot(pbx.channelvars, "Target")
    picker_location = (picker.context, picker.exten, picker.priority)
    # the picker takes the rung leg's place (a masquerade): its location and variables
    picker.context, picker.exten, picker.priority = target.context, target.exten, target.priority
    for var, value in target.variables.items():
        picker.variables[var] = value
    picker.app, picker.appdata = "AppDial", "(Outgoing Line)"
    pbx.publish_newexten(picker)
    pbx.emit("Pickup", "call", before_picker + before_target)
    for leg in dial.legs:
        if leg.chan is target:
            leg.chan = picker
    picker.dialled_by = dial
    target.dialled_by = None
    pbx.set_connected(caller, picker.caller_num, picker.caller_name)

    def replace_target() -> None:
        if not feature_code:
            pbx.emit_soft_hangup(target)  # 09: PickupChan: SoftHangupRequest, then Cause 26
            target.hangupcause = 26
        else:
            target.hangupcause = 16  # 09: *8: Cause 16 and no SoftHangupRequest
        target.context, target.exten, target.priority = picker_location
        pbx.destroy(target)

    dial.replaced = replace_target
    dial.leg_answered(picker, picked_by=target)
    return True


# ---------------------------------------------------------------- blind transfer

def blind_transfer(pbx: Pbx, transferer: Channel, exten: str, context: str) -> bool:
    bridge = transferer.bridge
    if bridge is None or len(bridge.channels) != 2:
        return False
    transferee = bridge.others(transferer)[0]
    pbx.chan_event("Unhold", transferer)
    pbx.emit(
        "BlindTransfer", "call",
        [("Result", "Success")]
        + transferer.snapshot(pbx.channelvars, "Transferer")
        + transferee.snapshot(pbx.channelvars, "Transferee")
        + bridge.headers()
        + [("IsExternal", "Yes"), ("Context", context), ("Extension", exten)],
    )
    pbx.set_var(transferee, "BLINDTRANSFER", transferer.name)
    bridge.channels.remove(transferer)
    transferer.bridge = None
    pbx.emit("BridgeLeave", "call", bridge.headers() + transferer.snapshot(pbx.channelvars))
    # the transferee is sent to the target at once; its BridgeLeave already shows the
    # new location, and that location's Newexten carries the old application (10)
    transferee.context, transferee.exten, transferee.priority = context, exten, 1
    pbx.publish_newexten(transferee)
    bridge.channels.remove(transferee)
    transferee.bridge = None
    pbx.emit("BridgeLeave", "call", bridge.headers() + transferee.snapshot(pbx.channelvars))
    pbx.destroy_bridge(bridge)
    transferer.hangupcause = 16
    transferer.hangup_source = "transfer"
    pbx.destroy(transferer)
    if transferee.pbx_task is None and transferee.dial is None:
        transferee.dialled_by = None
        pbx.start_pbx(transferee, context, exten, 1)
    else:
        transferee.pending_goto = (context, exten, 1)
        pbx.poke(transferee)
    return True


# ---------------------------------------------------------------- attended transfer

class AttendedTransfer:
    """One Atxfer: consultation bridge with a Local pair, completed when the transferer leaves."""

    def __init__(self, pbx: Pbx, transferer: Channel, exten: str, context: str) -> None:
        self.pbx = pbx
        self.transferer = transferer
        self.exten, self.context = exten, context
        self.orig_bridge: Bridge | None = transferer.bridge
        self.transferee: Channel | None = None
        self.consult: Bridge | None = None
        self.local1: Channel | None = None
        self.local2: Channel | None = None
        self.finished = False

    def dtmf(self, digit: str) -> None:
        self.pbx.chan_event("DTMFEnd", self.transferer, [
            ("Digit", digit), ("DurationMs", "0"), ("Direction", "Received"),
        ], cls="dtmf")

    async def run(self) -> bool:
        pbx, t = self.pbx, self.transferer
        if self.orig_bridge is None or len(self.orig_bridge.channels) != 2:
            return False
        self.transferee = self.orig_bridge.others(t)[0]
        # 10: '*', '2' (features.conf atxfer), Hold + music for the transferee, then the digits
        code = pbx.features.atxfer
        for i, digit in enumerate(code):
            if i:
                await pbx.clock.sleep(0.16)
            self.dtmf(digit)
        owner = self.orig_bridge.owner
        if owner is not None and hasattr(owner, "options") and "t" not in owner.options.lower():
            # README 12: without Dial option t the digits are just DTMF, no transfer starts
            return False
        await pbx.clock.sleep(0.1)
        if t.hungup or self.transferee.hungup:
            return False
        pbx.chan_event("Hold", t)
        self.transferee.held = True
        pbx.chan_event("MusicOnHoldStart", self.transferee, [("Class", "default")])
        pbx.device_changed(self.transferee.device)
        for digit in self.exten:
            await pbx.clock.sleep(0.06)
            self.dtmf(digit)
        if t.hungup or self.transferee.hungup or t.bridge is not self.orig_bridge:
            return False
        self._consult()
        return True

    def _consult(self) -> None:
        pbx, t = self.pbx, self.transferer
        one, two = pbx.new_local_pair(self.exten, self.context, linkedid=t.linkedid)
        self.local1, self.local2 = one, two
        one.dialled_by = self
        for var, value in t.inheritable():
            for half in (one, two):
                half.set_var(var, value)
        pbx.set_connected(one, t.caller_num, t.caller_name)
        self.consult = pbx.create_bridge(owner=self)
        pbx.set_callerid(two, t.caller_num, t.caller_name)
        pbx.emit("LocalBridge", "call", one.snapshot(pbx.channelvars, "LocalOne")
                 + two.snapshot(pbx.channelvars, "LocalTwo")
                 + [("Context", self.context), ("Exten", self.exten), ("LocalOptimization", "Yes")])
        pbx.enter_bridge(self.consult, one)
        assert self.orig_bridge is not None
        self.orig_bridge.channels.remove(t)
        t.bridge = None
        pbx.emit("BridgeLeave", "call", self.orig_bridge.headers() + t.snapshot(pbx.channelvars))
        pbx.enter_bridge(self.consult, t)
        pbx.set_connected(t, one.caller_num, one.caller_name)
        pbx.start_pbx(two, self.context, self.exten, 1)

    # Local ;1 is 'dialled' by this transfer: answer/ringing arrive through local_*()
    def leg_gone(self, chan: Channel) -> None:
        pass

    def member_left(self, bridge: Bridge, chan: Channel) -> None:
        if bridge is self.consult and chan is self.transferer and not self.finished:
            self._complete()
        elif not self.finished:
            self.pbx.dissolve(bridge)

    def _complete(self) -> None:
        """10: hanging up the transferer merges the consultation into the caller's bridge."""
        pbx = self.pbx
        self.finished = True
        orig, consult, one, t = self.orig_bridge, self.consult, self.local1, self.transferer
        assert orig is not None and consult is not None and one is not None and self.transferee is not None
        pbx.emit("BridgeMerge", "call", orig.headers("ToBridge") + consult.headers("FromBridge"))
        consult.channels.remove(one)
        one.bridge = None
        pbx.emit("BridgeLeave", "call", consult.headers() + one.snapshot(pbx.channelvars))
        one.dialled_by = None
        pbx.enter_bridge(orig, one)
        caller = self.transferee
        caller.held = False
        pbx.chan_event("MusicOnHoldStop", caller)
        pbx.emit(
            "AttendedTransfer", "call",
            [("Result", "Success")]
            + t.snapshot(pbx.channelvars, "OrigTransferer") + orig.headers("OrigBridge")
            + t.snapshot(pbx.channelvars, "SecondTransferer") + consult.headers("SecondBridge")
            + caller.snapshot(pbx.channelvars, "Transferee")
            + one.snapshot(pbx.channelvars, "TransferTarget")
            + [("IsExternal", "No"), ("DestType", "Bridge"), ("DestBridgeUniqueid", orig.uniqueid)],
        )
        pbx.destroy_bridge(consult)
        pbx.device_changed(caller.device)
        pbx.set_connected(caller, one.caller_num, one.caller_name)
        pbx.set_connected(one, caller.caller_num, caller.caller_name)
        if not t.hungup:
            if t.hangupcause == 0:
                t.hangupcause = 16
            pbx.destroy(t)
        two = self.local2
        if two is not None:
            # the ;1 side's connected line becomes ;2's caller id; Asterisk shows it late (10)
            two.pending_callerid = (caller.caller_num, caller.caller_name)
            for agent in pbx.peers(two):
                pbx.set_connected(agent, caller.caller_num, caller.caller_name)


def local_ringing(pbx: Pbx, two: Channel, leg: Channel) -> None:
    """The target rings: Local ;1 rings too and its 'dialler' (the transfer) sees DialState."""
    one = two.local_peer
    if one is None or one.state == RINGING:
        return
    # 10: ;1 already shows the target's caller id in its Newstate Ringing
    one.caller_num, one.caller_name = leg.caller_num, leg.caller_name
    pbx.set_state(one, RINGING)
    pbx.set_callerid(one, leg.caller_num, leg.caller_name)
    pbx.two_chan_event("DialState", None, one, [("DialStatus", "RINGING")])
    pbx.local_device_event(one, "INUSE")


def local_answered(pbx: Pbx, two: Channel) -> None:
    one = two.local_peer
    if one is None:
        return
    pbx.set_state(one, UP)
    pbx.two_chan_event("DialEnd", None, one, [("DialStatus", "ANSWER")])
    pbx.local_device_event(one, "INUSE")
    pbx.local_device_event(two, "INUSE")


def local_hangup(pbx: Pbx, gone: Channel) -> None:
    """One half of a Local pair hung up: the other half gets a hang-up request (10)."""
    other = gone.local_peer
    pbx.local_device_event(gone, "NOT_INUSE")
    if other is None or other.hungup or other.hangup_requested:
        return
    if other.hangupcause == 0:
        other.hangupcause = 16
    pbx.far_hangup(other, source=gone.hangup_source)

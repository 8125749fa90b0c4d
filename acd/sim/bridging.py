"""The Bridge action (08): pull two channels out of their dialplan into a new bridge.

Both leave their applications (music on hold stops; Wait() is abandoned) and show
their next priority. When one of them hangs up the bridge dissolves and the other goes
back to its dialplan at that next priority (08: acd-agent,wait,4 = Hangup(), so its
Newexten, SoftHangupRequest Cause 16 and Hangup follow).
"""

from __future__ import annotations

from .channels import Channel
from .pbx import Pbx


def pull(pbx: Pbx, chan: Channel) -> None:
    if chan.bridge is not None:
        pbx.leave_bridge(chan)
    if chan.pbx_task is None:
        return
    if chan.moh_active:
        chan.moh_active = False
        pbx.chan_event("MusicOnHoldStop", chan)
    chan.priority += 1  # 08: BridgeEnter shows the priority after the interrupted one
    chan.pulled = True
    pbx.poke(chan)


def bridge_channels(pbx: Pbx, one: Channel, two: Channel) -> None:
    bridge = pbx.create_bridge(owner=None)
    for chan in (one, two):
        pull(pbx, chan)
        pbx.enter_bridge(bridge, chan)
    pbx.set_connected(two, one.caller_num, one.caller_name)
    pbx.set_connected(one, two.caller_num, two.caller_name)

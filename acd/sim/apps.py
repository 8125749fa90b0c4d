"""Dialplan applications the simulator executes.

Each application is a coroutine ``(pbx, channel, data) -> result`` where data is
already substituted (Newexten shows it that way). The result tells the dialplan loop
to go on (NEXT), that the application moved the channel (JUMPED), to hang up (HANGUP)
or that the channel now belongs to someone else (DETACH, after a pickup).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from .channels import UP, Channel
from .dialplan import DialplanError, split_args, truthy
from .digits import read, say_digits
from .pbx import DETACH, HANGUP, JUMPED, NEXT, Mailbox, Pbx

App = Callable[[Pbx, Channel, str], Awaitable[str]]


async def answer(pbx: Pbx, chan: Channel, data: str) -> str:
    if chan.state != UP:
        pbx.set_state(chan, UP)
        # 17: without inbound RTP Answer() waits 500 ms before the next priority
        delay = pbx.features.answer_delay_media if chan.media else pbx.features.answer_delay
        await pbx.sleep(chan, delay)
    return NEXT


async def ringing(pbx: Pbx, chan: Channel, data: str) -> str:
    # chan_pjsip sends 180 but does not change the channel state (assumed: no Newstate)
    return NEXT


async def noop(pbx: Pbx, chan: Channel, data: str) -> str:
    return NEXT


async def set_(pbx: Pbx, chan: Channel, data: str) -> str:
    name, sep, value = data.partition("=")
    if not sep:
        raise DialplanError(f"Set({data}) needs name=value")
    name = name.strip()
    if "(" in name:
        raise DialplanError(f"Set() of function {name} is not simulated")
    pbx.set_var(chan, name, value)
    return NEXT


def _goto(pbx: Pbx, chan: Channel, spec: str) -> str:
    parts = [p.strip() for p in spec.split(",")]
    context, exten = chan.context, chan.exten
    if len(parts) == 3:
        context, exten, prio_s = parts
    elif len(parts) == 2:
        exten, prio_s = parts
    elif len(parts) == 1 and parts[0]:
        prio_s = parts[0]
    else:
        raise DialplanError(f"bad Goto target {spec!r}")
    if prio_s.isdigit():
        priority = int(prio_s)
    else:
        ext = pbx.dialplan.find(context, exten)
        if ext is None or prio_s not in ext.labels:
            raise DialplanError(f"no label {prio_s!r} at {context},{exten}")
        priority = ext.labels[prio_s]
    chan.context, chan.exten, chan.priority = context, exten, priority
    return JUMPED


async def goto(pbx: Pbx, chan: Channel, data: str) -> str:
    return _goto(pbx, chan, data)


async def gotoif(pbx: Pbx, chan: Channel, data: str) -> str:
    cond, sep, rest = data.partition("?")
    if not sep:
        raise DialplanError(f"GotoIf({data}) without '?'")
    if_true, _, if_false = rest.partition(":")
    target = if_true if truthy(cond) else if_false
    if not target.strip():
        return NEXT
    return _goto(pbx, chan, target)


async def user_event(pbx: Pbx, chan: Channel, data: str) -> str:
    args = split_args(data)
    body = [("UserEvent", args[0].strip())]
    for arg in args[1:]:
        key, _, value = arg.partition(":")
        body.append((key.strip(), value.lstrip(" ")))
    # 01: body keys are appended after the snapshot, so CallerIDNum can appear twice
    pbx.chan_event("UserEvent", chan, body, cls="user")
    return NEXT


async def music_on_hold(pbx: Pbx, chan: Channel, data: str) -> str:
    args = split_args(data)
    klass = args[0].strip() or "default"
    duration = float(args[1]) if len(args) > 1 and args[1].strip() else None
    pbx.chan_event("MusicOnHoldStart", chan, [("Class", klass)])
    chan.moh_active = True
    await pbx.sleep(chan, duration or None)
    if chan.moh_active:  # the Bridge action may have stopped it already (08)
        chan.moh_active = False
        pbx.chan_event("MusicOnHoldStop", chan)
    return NEXT


async def wait(pbx: Pbx, chan: Channel, data: str) -> str:
    seconds = float(data.strip() or 0)
    await pbx.sleep(chan, seconds)
    return NEXT


async def playback(pbx: Pbx, chan: Channel, data: str) -> str:
    files = [f for f in split_args(data)[0].split("&") if f]
    if chan.state != UP:
        pbx.set_state(chan, UP)
    for name in files:
        # 07: Playback(beep) took 0.25 s; other prompts get a nominal length
        if not await pbx.sleep(chan, 0.25 if name == "beep" else pbx.features.playback_s):
            pbx.set_var(chan, "PLAYBACKSTATUS", "FAILED")
            return NEXT
    pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
    return NEXT


def spoken_words(number: int) -> int:
    """How many sound files SayNumber plays for ``number`` in English (digits/N,
    digits/hundred, digits/thousand...): the sim's length of the saying (assumed)."""
    words = 0
    if number < 0:
        words, number = 1, -number  # digits/minus
    for size in (1_000_000, 1_000, 100):
        if number >= size:
            words += spoken_words(number // size) + 1
            number %= size
    if number >= 20:
        words += 1  # digits/20..90
        number %= 10
    return words + (1 if number else 0) if words else 1


async def say_number(pbx: Pbx, chan: Channel, data: str) -> str:
    """SayNumber(n): no event, no variable (16, README 25); only the next Newexten shows it ended."""
    text = split_args(data)[0].strip()
    if not re.fullmatch(r"-?[0-9]{1,15}", text):
        # assumed: Asterisk logs a warning and the dialplan goes on
        return NEXT
    await pbx.sleep(chan, spoken_words(int(text)) * pbx.features.say_word_s)
    return NEXT


async def voicemail(pbx: Pbx, chan: Channel, data: str) -> str:
    args = split_args(data)
    box_name = args[0].split("&")[0].strip()
    if not box_name:
        raise DialplanError("VoiceMail() without a mailbox")
    if "@" not in box_name:
        box_name += "@default"
    box = pbx.mailboxes.get(box_name)
    if box is None:
        if pbx.strict_mailboxes:
            pbx.set_var(chan, "VMSTATUS", "FAILED")
            return NEXT
        box = pbx.mailboxes[box_name] = Mailbox(box_name)
    if chan.state != UP:
        pbx.set_state(chan, UP)
    # greeting and beep, then the recording runs until the caller hangs up (12) or maxsecs
    if not await pbx.sleep(chan, pbx.features.vm_greeting_s):
        pbx.set_var(chan, "VMSTATUS", "USEREXIT")
        return NEXT
    started = pbx.clock.now()
    await pbx.sleep(chan, pbx.features.vm_maxsecs)
    if chan.pending_goto is None and pbx.clock.now() - started >= pbx.features.vm_minsecs:
        box.new += 1
        # 12: MessageWaiting (with the caller's channel) comes before the caller's Hangup
        pbx.chan_event("MessageWaiting", chan, [
            ("Mailbox", box.mailbox), ("Waiting", "1"), ("New", str(box.new)), ("Old", str(box.old)),
        ])
        pbx.device_changed(f"MWI:{box.mailbox}")
        if chan.owner is not None and hasattr(chan.owner, "voicemail_left"):
            chan.owner.voicemail_left(box.mailbox)
        pbx.set_var(chan, "VMSTATUS", "SUCCESS")
    return NEXT


async def hangup(pbx: Pbx, chan: Channel, data: str) -> str:
    cause = data.strip()
    if cause:
        chan.hangupcause = int(cause)
    elif chan.hangupcause == 0:
        chan.hangupcause = 16  # 07: Hangup() -> Cause 16 Normal Clearing
    if chan.hangup_source is None:
        chan.hangup_source = "dialplan"
    chan.hangup_requested = True
    pbx.emit_soft_hangup(chan)
    return HANGUP


async def dial(pbx: Pbx, chan: Channel, data: str) -> str:
    from .dial import Dial

    await Dial.from_app(pbx, chan, data).run()
    return NEXT


async def pickup_chan(pbx: Pbx, chan: Channel, data: str) -> str:
    from .transfers import pickup

    targets = [t.strip() for t in split_args(data)[0].split("&") if t.strip()]
    if await pickup(pbx, chan, targets=targets, by_group=False):
        return DETACH
    return NEXT


async def pickup_group(pbx: Pbx, chan: Channel, data: str) -> str:
    from .transfers import pickup

    if data.strip():
        raise DialplanError("Pickup(extension@context) is not simulated, only group pickup")
    if await pickup(pbx, chan, targets=[], by_group=True):
        return DETACH
    return NEXT


APPLICATIONS: dict[str, App] = {
    "answer": answer,
    "ringing": ringing,
    "noop": noop,
    "set": set_,
    "goto": goto,
    "gotoif": gotoif,
    "userevent": user_event,
    "musiconhold": music_on_hold,
    "wait": wait,
    "playback": playback,
    "saynumber": say_number,
    "saydigits": say_digits,
    "read": read,
    "voicemail": voicemail,
    "hangup": hangup,
    "dial": dial,
    "pickupchan": pickup_chan,
    "pickup": pickup_group,
}

"""Missed-call processing: what happens when every member was tried and nobody answered.

``plan`` resolves the group's policy into one concrete step (whose mailbox, which
number, which group), falling back where the policy cannot be carried out: a
forward to a mobile nobody has, a chain of group forwards that loops or runs too long.
A chain never ends in a hang-up: its last resort is the voicemail of the first group's
responsible person.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import MissedAction, QueueGroup, RoutingConfig


@dataclass(frozen=True, slots=True)
class Plan:
    action: MissedAction
    mailbox: str = ""
    number: str = ""
    group: str = ""
    message: str = ""
    note: str = ""  # why the plan differs from the configured action, for the log


def plan(
    config: RoutingConfig, group: QueueGroup, action: MissedAction, visited: list[str], waited_s: float
) -> Plan:
    """``visited``: the groups the call has been in, the first one first."""
    policy = group.missed
    person = config.agents.get(group.responsible or "")
    if action is MissedAction.KEEP_WAITING and waited_s >= policy.max_wait_s:
        action, note = policy.after_wait, f"waited {waited_s:.0f} s, the maximum"
        if action is MissedAction.KEEP_WAITING:  # config validation forbids it; never loop
            action = MissedAction.HANGUP
        return _with_note(plan(config, group, action, visited, 0.0), note)
    if action is MissedAction.VOICEMAIL:
        if person is None:
            return Plan(MissedAction.HANGUP, message=policy.message, note="no responsible person for voicemail")
        return Plan(MissedAction.VOICEMAIL, mailbox=person.mailbox_or_default)
    if action is MissedAction.FORWARD_MOBILE:
        if person is None or not person.mobile:
            return _with_note(
                plan(config, group, MissedAction.VOICEMAIL, visited, 0.0), "responsible person has no mobile"
            )
        return Plan(MissedAction.FORWARD_MOBILE, number=person.mobile)
    if action is MissedAction.FORWARD_NUMBER:
        if not policy.number:
            return _with_note(plan(config, group, MissedAction.VOICEMAIL, visited, 0.0), "no number to forward to")
        return Plan(MissedAction.FORWARD_NUMBER, number=policy.number)
    if action is MissedAction.FORWARD_GROUP:
        if policy.group not in config.groups or policy.group == group.id:
            return _with_note(plan(config, group, MissedAction.VOICEMAIL, visited, 0.0), "no group to forward to")
        if policy.group in visited:
            return _last_resort(config, visited[0], f'the call was in group "{policy.group}" already')
        if len(visited) - 1 >= config.max_group_hops:
            return _last_resort(config, visited[0], f"forwarded {len(visited) - 1} times, the most")
        return Plan(MissedAction.FORWARD_GROUP, group=policy.group)
    if action is MissedAction.HANGUP:
        return Plan(MissedAction.HANGUP, message=policy.message)
    return Plan(MissedAction.KEEP_WAITING)


def _last_resort(config: RoutingConfig, first_group: str, note: str) -> Plan:
    first = config.groups.get(first_group)
    person = config.agents.get(first.responsible or "") if first else None
    if person is None:  # a first group with no member and no person: nobody's voicemail
        return Plan(MissedAction.HANGUP, message=first.missed.message if first else "",
                    note=f"{note}; no responsible person for voicemail")
    return Plan(MissedAction.VOICEMAIL, mailbox=person.mailbox_or_default, note=f"{note}: the first group's voicemail")


def _with_note(p: Plan, note: str) -> Plan:
    return Plan(p.action, p.mailbox, p.number, p.group, p.message, "; ".join(filter(None, [note, p.note])))

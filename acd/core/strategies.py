"""The three distribution modes: whom to ring next for a call in a queue group.

``next_members`` is pure: it gets the group, the members this call has already been
offered to in the current pass, and the availability test, and returns the members
to ring now plus the log of the members it skipped.

Evenly (documented rule): at every step the call is offered to the member who was
least recently offered a call from this group (an offer that was not answered still
counts), among the members available and not yet tried for this call; never-offered
members come first, ties go to list order. So a new call starts with the member
whose last offer is oldest, and consecutive calls do not start with the same member
while others are available.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .model import Mode, QueueGroup

Skip = tuple[str, str]  # (agent id, reason)


def next_members(
    group: QueueGroup,
    tried: set[str],
    unavailable_because: Callable[[str], str | None],
    last_offered: Mapping[str, float],
) -> tuple[tuple[str, ...], list[Skip]]:
    skipped: list[Skip] = []
    candidates = [m for m in _ordered(group, last_offered) if m not in tried]
    chosen: list[str] = []
    for member in candidates:
        reason = unavailable_because(member)
        if reason is not None:
            skipped.append((member, reason))
            continue
        chosen.append(member)
        if group.mode is not Mode.ALL:
            break
    return tuple(chosen), skipped


def _ordered(group: QueueGroup, last_offered: Mapping[str, float]) -> list[str]:
    members = list(dict.fromkeys(group.members))  # a member listed twice rings once
    if group.mode is Mode.EVENLY:
        position = {m: i for i, m in enumerate(members)}
        members.sort(key=lambda m: (last_offered.get(m, float("-inf")), position[m]))
    return members

"""Calls by the queue group they are in: the indexes behind "an agent became free" and
"your place in line".

Every device-state change of an agent asks which callers of the agent's groups wait in
music; every announcement asks how many callers of the group came first. Scanning every
call for that is O(calls) per event, and the callback check that went with the first
scanned every group's members: O(groups x members), app_queue's device-state pattern
that backs up at 40,000 queues. With these indexes and ``RoutingConfig.groups_of`` an
event touches only the groups concerned and their calls.

The router adds a call when it enters a group (arrival, adoption, forward to another
group) or, for the waiting index, when it starts waiting (``Router._keep_waiting``, the
only way into ``Phase.WAITING``). Entries that no longer hold (the call is gone, in
another group, or out of the phases indexed) are dropped when the group is next looked
at, so the router needs no hook at each of the many places a call moves on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .call import Call, Phase


class CallsByGroup:
    def __init__(self, phases: frozenset[Phase] = frozenset(Phase)) -> None:
        self._phases = phases
        self._by_group: dict[str, dict[str, Call]] = {}
        # groups the settings no longer have while calls are still in them (a call keeps
        # its group as it was): their members are found from the call's own group
        self._removed_groups: set[str] = set()

    def add(self, call: Call, known_groups: Mapping[str, object]) -> None:
        if call.group is None:
            return
        self._by_group.setdefault(call.group.id, {})[call.id] = call
        if call.group.id not in known_groups:
            self._removed_groups.add(call.group.id)

    def discard(self, call: Call) -> None:
        """The call ended: out of every group it was in. Left to the next look, an index
        nobody looks at (no announcements, no callbacks) kept every call ever taken."""
        for group_id in {*call.groups_visited, call.group_id}:
            entries = self._by_group.get(group_id)
            if entries is not None and entries.get(call.id) is call:
                del entries[call.id]
                if not entries:
                    del self._by_group[group_id]
                    self._removed_groups.discard(group_id)

    def settings_changed(self, known_groups: Mapping[str, object]) -> None:
        self._removed_groups = {g for g in self._by_group if g not in known_groups}

    def empty(self) -> bool:
        """No call in any group (entries that no longer hold count until looked at)."""
        return not self._by_group

    def removed_groups(self) -> set[str]:
        return self._removed_groups

    def in_group(self, group_id: str, calls: Mapping[str, Call]) -> list[Call]:
        """The calls of ``calls`` still in this group (and in the phases indexed)."""
        entries = self._by_group.get(group_id)
        if not entries:
            return []
        found = []
        for call_id, call in list(entries.items()):
            if calls.get(call_id) is call and call.phase in self._phases and call.group is not None \
                    and call.group.id == group_id:
                found.append(call)
            else:
                del entries[call_id]  # added again if it comes back
        if not entries:
            del self._by_group[group_id]
            self._removed_groups.discard(group_id)
        return found

    def in_groups(self, group_ids: Iterable[str], calls: Mapping[str, Call]) -> list[Call]:
        """The calls in these groups, longest-waiting first; two that arrived at the same
        moment in the order the router took them in (as a scan of ``calls`` gives)."""
        found = [c for g in group_ids for c in self.in_group(g, calls)]
        found.sort(key=lambda c: (c.arrived_at, c.seq))
        return found

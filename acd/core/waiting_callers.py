"""Callers waiting in music, by queue group: the index behind "an agent became free".

Every device-state change of an agent asks which callers of the agent's groups wait.
Scanning every call for that is O(calls) per event, and the callback check that went
with it scanned every group's members: O(groups x members), app_queue's device-state
pattern that backs up at 40,000 queues. With this index and ``RoutingConfig.groups_of``
an event touches only the agent's own groups and the callers waiting in them.

The router adds a call when it starts waiting (``Router._keep_waiting``, the only way
into ``Phase.WAITING``); entries that no longer wait there (rung, answered, gone,
forwarded to another group) are dropped when the group is next looked at, so the
router needs no hook at each of the many places a call leaves the music.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .call import Call, Phase


class WaitingCallers:
    def __init__(self) -> None:
        self._by_group: dict[str, dict[str, Call]] = {}
        # groups the settings no longer have while callers still wait in them (the call
        # keeps the group as it was): their members are found from the call's own group
        self._removed_groups: set[str] = set()

    def add(self, call: Call, known_groups: Mapping[str, object]) -> None:
        assert call.group is not None
        self._by_group.setdefault(call.group.id, {})[call.id] = call
        if call.group.id not in known_groups:
            self._removed_groups.add(call.group.id)

    def settings_changed(self, known_groups: Mapping[str, object]) -> None:
        self._removed_groups = {g for g in self._by_group if g not in known_groups}

    def removed_groups(self) -> set[str]:
        return self._removed_groups

    def in_group(self, group_id: str, calls: Mapping[str, Call]) -> list[Call]:
        """The callers still waiting in this group, in the order they started waiting."""
        entries = self._by_group.get(group_id)
        if not entries:
            return []
        found = []
        for call_id, call in list(entries.items()):
            if calls.get(call_id) is call and call.phase is Phase.WAITING and call.group is not None \
                    and call.group.id == group_id:
                found.append(call)
            else:
                del entries[call_id]  # added again if it comes back to the music
        if not entries:
            del self._by_group[group_id]
            self._removed_groups.discard(group_id)
        return found

    def in_groups(self, group_ids: Iterable[str], calls: Mapping[str, Call]) -> list[Call]:
        """The callers waiting in these groups, longest-waiting first; two that arrived at
        the same moment in the order the router took them in (as a scan of ``calls`` gives)."""
        found = [c for g in group_ids for c in self.in_group(g, calls)]
        found.sort(key=lambda c: (c.arrived_at, c.seq))
        return found

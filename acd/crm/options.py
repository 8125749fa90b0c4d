"""What the CRM does for one queue group or channel queue.

Defaults follow Bitrix24's telephony and Open Channels settings, where each of these is
on for a new line: check the client in the CRM, forward to the responsible person,
change the responsible person on transfer, create a lead for a new client, register
missed calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .bitrix24_crm import TransferUpdates


@dataclass(frozen=True, slots=True)
class CrmOptions:
    check_client: bool = True  # look the caller/sender up at all; off: the CRM is not asked
    owner_first: bool = True  # offer a known client's call or chat to its owner first
    owner_follows_transfer: bool = True  # a manual transfer makes the new agent the owner
    create_lead: bool = True  # unknown caller/sender: a lead owned by the agent who answered
    record_missed: bool = True  # a missed call goes into the client's activity log
    # what a manual transfer makes the new agent responsible for in Bitrix24: the
    # contact, company or lead it finds first ("client"), or every lead, contact, company
    # with the number, or their open deals
    transfer_updates: TransferUpdates = "client"


DEFAULT_OPTIONS = CrmOptions()


def options_for(options: Mapping[str, CrmOptions], queue: str | None) -> CrmOptions:
    """The options of ``queue`` (group or channel queue id), else the defaults."""
    if queue is None:
        return DEFAULT_OPTIONS
    return options.get(queue, DEFAULT_OPTIONS)

"""The CRM: clients and their owners, identity matching, and durable delivery of
changes to external CRMs (generic signed webhook, Bitrix24) through an outbox.

Public names are re-exported here; the modules are named after what they hold.

Wiring, in the service's one TaskGroup::

    engine = make_engine(url); create_all(engine)
    sender = OutboxSender(engine, [WebhookConnector("hook", url, secret),
                                   Bitrix24Connector("bitrix", webhook_url, {"anna": 11})])
    feed = CrmFeed(engine, region="DE", targets=["hook", "bitrix"], options=per_queue, sender=sender)
    distributor.transfer_listeners.append(feed.manual_transfer)
    tg.create_task(feed.run()); tg.create_task(sender.run())
"""

from .bitrix24 import Bitrix24Connector
from .clients import (
    CONTACT,
    LEAD,
    OwnerChange,
    activities,
    add_client,
    create_lead,
    find_client,
    find_client_id,
    identities_of,
    insert_client,
    link_identities,
    record_missed_call,
    set_owner,
)
from .connectors import Connector
from .decisions import (
    Interaction,
    ReportChatTransfer,
    on_answered,
    on_call_finished,
    on_chat_transfer,
    on_conversation_transfer,
    on_create_lead,
    on_manual_transfer,
    on_missed,
    owner_for,
    recognise,
)
from .feed import CrmFeed
from .identity import (
    EMAIL,
    MESSENGER,
    PHONE,
    Identity,
    InvalidIdentity,
    normalise_email,
    normalise_phone,
    parse_client,
    parse_phone,
)
from .models import Activity, Client, ClientIdentity, ExternalRef, OutboxJob, create_all, make_engine
from .options import DEFAULT_OPTIONS, CrmOptions, options_for
from .outbox import DEAD, DELIVERED, PENDING, Envelope, Outcome, enqueue, list_outbox, retry
from .sender import Backoff, OutboxSender
from .webhook import WebhookConnector, sign, verify

__all__ = [
    "activities", "Activity", "add_client", "Backoff", "Bitrix24Connector", "Client", "ClientIdentity",
    "Connector", "CONTACT", "create_all", "create_lead", "CrmFeed", "CrmOptions", "DEAD", "DEFAULT_OPTIONS",
    "DELIVERED", "EMAIL", "enqueue", "Envelope", "ExternalRef", "find_client", "find_client_id",
    "identities_of", "Identity", "Interaction", "insert_client", "InvalidIdentity", "LEAD", "link_identities",
    "list_outbox", "make_engine", "MESSENGER",
    "normalise_email", "normalise_phone", "on_answered", "on_call_finished", "on_chat_transfer",
    "on_conversation_transfer", "on_create_lead", "on_manual_transfer", "on_missed", "options_for", "OutboxJob",
    "OutboxSender", "Outcome", "owner_for", "OwnerChange", "parse_client", "parse_phone", "PENDING", "PHONE",
    "recognise", "record_missed_call", "ReportChatTransfer", "retry", "set_owner", "sign", "verify",
    "WebhookConnector",
]

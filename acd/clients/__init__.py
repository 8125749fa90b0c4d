"""The clients as supervisors and agents see them: search, the client card, the
changes a person makes (responsible person, identities, merge) and CSV import.

Built over the built-in CRM's tables (``acd.crm``) and the history of calls
(``acd.store``) and of chats, e-mails and forms (``acd.channels.history``), which live
in the same database. Every function takes an open session and never commits: the
caller runs a change and its outbox jobs in one transaction (``CrmFeed.apply``).
"""

from .card import card_for, client_card, phone_variants
from .changes import (
    ClientNotFound,
    IdentityTaken,
    MergeRefused,
    StaleClient,
    add_identity,
    change_owner,
    merge_clients,
    remove_identity,
    typed_identity,
)
from .csv_import import MAX_BYTES, MAX_LINES, ImportRefused, ImportReport, import_clients
from .search import MAX_QUERY, search_clients

__all__ = [
    "add_identity", "card_for", "change_owner", "client_card", "ClientNotFound", "IdentityTaken", "import_clients",
    "ImportRefused", "ImportReport", "MAX_BYTES", "MAX_LINES", "MAX_QUERY", "merge_clients", "MergeRefused",
    "phone_variants", "remove_identity", "search_clients", "StaleClient", "typed_identity",
]

"""A call's id when acd follows several Asterisk servers: (server, Uniqueid) in one string.

Two servers may hand out the same Uniqueid ("1700000000.1" is only unique on its own
server), so a call is known by its server and its Uniqueid together. The first server
listed (the only one before several were possible) keeps its plain Uniqueid as the id:
history, page addresses and the CRM's call ids of a single-server installation stay as
they were. Any other server's call is ``<Uniqueid>@<server>``: Asterisk's Uniqueid is
``[systemname-]<epoch>.<sequence>``, and a server name (``acd.config``) holds no "@".
"""

from __future__ import annotations

SEPARATOR = "@"


def call_key(server: str, uniqueid: str, default_server: str) -> str:
    """The id the core knows the call by."""
    return uniqueid if server == default_server else f"{uniqueid}{SEPARATOR}{server}"


def split_call_key(call_id: str, default_server: str) -> tuple[str, str]:
    """(server, Uniqueid) of a call id; a plain Uniqueid belongs to the default server."""
    uniqueid, sep, server = call_id.rpartition(SEPARATOR)
    return (server, uniqueid) if sep and server else (default_server, call_id)

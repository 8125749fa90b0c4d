"""Several acd nodes on one PostgreSQL database: what they share and how they learn of it.

``notify``: PostgreSQL LISTEN/NOTIFY, one listening connection per node;
``shared_state``: the table of what every node reads (settings saved in the web UI,
the active node's live picture); ``shared_settings`` and ``shared_live`` on top of
them; ``outbox_turn``: one node at a time delivers the outbox. Leadership (which node
is active for which Asterisk server) is ``leadership``'s; here it is a callable.
"""

"""Several acd nodes on one PostgreSQL database: which node is active for which
Asterisk server (``leadership``), what the nodes share and how they learn of it.

``notify``: PostgreSQL LISTEN/NOTIFY, one listening connection per node;
``shared_state``: the table of what every node reads (settings saved in the web UI,
the active node's live picture); ``shared_settings``, ``shared_live``,
``shared_owners`` and ``agent_work`` on top of them; ``outbox_turn``: one node at a
time delivers the outbox; ``node``: all of it for one node.
"""

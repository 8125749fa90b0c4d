"""Several acd nodes on one PostgreSQL database: which node is active for which
Asterisk server (leadership.py)."""

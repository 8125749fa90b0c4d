"""The database's schema history as Alembic migrations, shipped inside the package.

``acd.store.schema`` runs them (``acd db upgrade``, the check at start); no alembic.ini
is needed. One revision per change of the tables in the project's history, the first
one the schema as it first landed. Each revision also says how to recognise its change
in a database made before acd had migrations (``present``), and its steps skip what such
a database already has: every acd before migrations created the tables it knew at start.

A new revision, from a source checkout (autogenerate compares the models with a scratch
database brought to head)::

    python -m acd.store.schema revision "what changed"
"""

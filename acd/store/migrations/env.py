"""Alembic's environment for acd, run in-process by ``acd.store.schema``: the connection
to migrate (already in its transaction) comes in ``config.attributes["connection"]``,
so there is no alembic.ini and no URL here."""

from alembic import context

config = context.config
context.configure(
    connection=config.attributes["connection"],
    # models to compare with: given only when a developer autogenerates a revision
    target_metadata=config.attributes.get("target_metadata"),
    # SQLite alters a table by copying it into a new one (Alembic's batch mode)
    render_as_batch=True,
    compare_type=True,
    # acd.store.schema wraps every upgrade in one transaction, on SQLite too
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()

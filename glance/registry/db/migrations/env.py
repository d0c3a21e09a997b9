"""Alembic environment of the registry schema.

Normally run by :class:`glance.registry.db.migration.MigrationHistory`, which hands
over an open connection and the version table. From the alembic command line (to write
a new revision) pass the database explicitly::

    alembic -c glance/registry/db/migrations/alembic.ini -x url=sqlite:///dev.sqlite \\
        revision --autogenerate -m "add a column"
"""

from alembic import context

from glance.registry.db import migration, models, session

config = context.config


def _run(connection):
    context.configure(
        connection=connection, target_metadata=models.Base.metadata,
        version_table=config.attributes.get('version_table',
                                            migration.REGISTRY.version_table),
        include_object=migration.include_object, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def main():
    """Run the migrations on the configured connection (or on ``-x url=``)."""
    connection = config.attributes.get('connection')
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get('url')
    if not url:
        raise SystemExit('pass the database URL: alembic -x url=<sql_connection> ...')
    engine = session.create_engine({'sql_connection': url})
    with engine.begin() as connection:
        _run(connection)


main()

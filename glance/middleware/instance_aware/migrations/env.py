"""Alembic environment of the related-images table.

Online mode only: :data:`glance.middleware.instance_aware.db.HISTORY` passes an open
connection in ``config.attributes['connection']`` and the version table in
``config.attributes['version_table']``. The history is recorded in its own
version table and ``include_name`` keeps autogenerate away from the registry's tables,
so the two histories share a database without touching each other.
"""

from alembic import context

from glance.middleware.instance_aware import db


def _own_tables_only(name, type_, parent_names):
    return type_ != 'table' or name == db.TABLE


context.configure(connection=context.config.attributes['connection'],
                  target_metadata=db.metadata,
                  version_table=context.config.attributes.get('version_table',
                                                              db.VERSION_TABLE),
                  include_name=_own_tables_only)
with context.begin_transaction():
    context.run_migrations()

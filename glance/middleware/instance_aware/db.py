"""The related-images table of the ``instance_aware`` filter.

One row per related image: ``(image_id, nova_installation_uuid, instance_id, relation,
created_at)``. An image is related to at most one instance (the one it was made from),
so ``image_id`` is the primary key and relating it again replaces the row. Lookups go
by ``(nova_installation_uuid, instance_id[, relation])``, which one index covers.

The table is created by this package's own alembic history (:data:`HISTORY`, scripts
in :mod:`glance.middleware.instance_aware.migrations`), recorded in its own version
table ``instance_aware_version`` through the registry's
:class:`~glance.registry.db.migration.MigrationHistory`, so it lives beside the
registry's tables and history in the same database without either touching the other.

The registry never reads this table by name: queries hand the registry's list a
subquery of related image ids, which the registry's statement embeds; that is why
the table must live in the registry's own database. No foreign key ties the two, so
the registry's schema and deletes stay exactly as they are without the filter: the
filter removes a row when its image is deleted, and queries skip deleted images
should a row be left over.
"""

import contextlib

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from glance.common import exception
from glance.registry.db import migration, models, session

TABLE = 'instance_aware_relations'
VERSION_TABLE = 'instance_aware_version'
RELATION_MAX = 32
INSTANCE_ID_MAX = 36

metadata = sa.MetaData()
relations = sa.Table(
    TABLE, metadata,
    sa.Column('image_id', sa.String(36), primary_key=True),
    sa.Column('nova_installation_uuid', sa.String(36), nullable=False),
    sa.Column('instance_id', sa.String(INSTANCE_ID_MAX), nullable=False),
    sa.Column('relation', sa.String(RELATION_MAX), nullable=False),
    sa.Column('created_at', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                                       'mariadb'), nullable=False),
    sa.Index('ix_instance_aware_relations_instance', 'nova_installation_uuid',
             'instance_id', 'relation'),
    mysql_engine='InnoDB', mysql_charset='utf8mb4', mysql_collate='utf8mb4_bin',
)

#: This table's alembic history; ``HISTORY.upgrade(engine)`` creates or updates it.
HISTORY = migration.MigrationHistory('glance.middleware.instance_aware:migrations',
                                     VERSION_TABLE)


class RelationStore:
    """Reads and writes the related-images table.

    :param engine: a :class:`sqlalchemy.engine.Engine` on the database of the table.
    """

    def __init__(self, engine):
        self.engine = engine

    @contextlib.contextmanager
    def _transaction(self):
        try:
            with self.engine.begin() as connection:
                yield connection
        except session.UNAVAILABLE_ERRORS as err:
            raise exception.ServiceUnavailable(
                reason='related-images database unavailable (%s)'
                % session.describe_error(err)) from None

    def relate(self, image_id, installation_uuid, instance_id, relation):
        """Record (or replace) the instance an image is related to.

        :param image_id: the registry's image id.
        :param installation_uuid: the Nova installation UUID (canonical form).
        :param instance_id: the instance id (canonical form).
        :param relation: e.g. ``snapshot`` or ``backup``.
        :raises ServiceUnavailable: when the database cannot be reached.
        """
        values = {'nova_installation_uuid': installation_uuid,
                  'instance_id': instance_id, 'relation': relation,
                  'created_at': models.utcnow()}
        with self._transaction() as connection:
            # Delete-then-insert in one transaction: portable across SQLite, MySQL and
            # PostgreSQL, where each dialect spells an upsert differently.
            connection.execute(relations.delete().where(relations.c.image_id == image_id))
            connection.execute(relations.insert().values(image_id=image_id, **values))

    def forget(self, image_id):
        """Remove the relation of an image, if it has one.

        :raises ServiceUnavailable: when the database cannot be reached.
        """
        with self._transaction() as connection:
            connection.execute(relations.delete().where(relations.c.image_id == image_id))

    @staticmethod
    def related_ids(installation_uuid, instance_id, relation):
        """A subquery of the ids of the images related to an instance.

        The registry's list narrows its page to these ids
        (:data:`glance.registry.api.ONLY_IDS_KEY`), so one statement reads the page;
        the index on ``(nova_installation_uuid, instance_id, relation)`` finds the
        rows.

        :param installation_uuid: the Nova installation UUID (canonical form).
        :param instance_id: the instance id (canonical form).
        :param relation: only rows of this relation, or None for all.
        :returns: a SQLAlchemy ``SELECT image_id`` (not executed here).
        """
        related = [relations.c.nova_installation_uuid == installation_uuid,
                   relations.c.instance_id == instance_id]
        if relation is not None:
            related.append(relations.c.relation == relation)
        return sa.select(relations.c.image_id).where(*related)

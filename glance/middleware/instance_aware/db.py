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

The registry never reads this table. Queries read the registry's ``images`` table
(through :mod:`glance.registry.db.models`, read-only) to order related images as the
registry orders its lists; that is why the table must live in the registry's own
database. No foreign key ties the two, so the registry's schema and deletes stay
exactly as they are without the filter: the filter removes a row when its image is
deleted, and queries skip deleted images should a row be left over.
"""

import contextlib
import dataclasses

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


@dataclasses.dataclass(frozen=True)
class ImageRow:
    """What a related-images query needs of one image row.

    :ivar related: False for the marker row when it is not related to the instance.
    """

    id: str
    owner: str | None
    is_public: bool
    deleted: bool
    related: bool


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

    def related_images(self, installation_uuid, instance_id, relation, sort_key,
                       sort_dir, marker=None):
        """Return the images related to an instance, in the registry's list order.

        One query joins the related rows to the registry's ``images`` table and lets
        the database order them by ``(sort_key, id)`` exactly as the registry orders
        its lists (same columns, collation and NULL placement). The marker image is
        included even when it is not (or no longer) related, so the caller can find
        where the next page starts.

        :param installation_uuid: the Nova installation UUID (canonical form).
        :param instance_id: the instance id (canonical form).
        :param relation: only rows of this relation, or None for all.
        :param sort_key: one of the registry's sort keys.
        :param sort_dir: ``asc`` or ``desc``.
        :param marker: an image id, or None.
        :returns: a list of :class:`ImageRow` in page order; deleted and invisible
            images are included (the caller applies the caller's visibility).
        :raises ServiceUnavailable: when the database cannot be reached.
        """
        images = models.Image.__table__
        columns = (images.c.id, images.c.owner, images.c.is_public, images.c.deleted,
                   images.c[sort_key].label('sort_value'))
        related = [relations.c.nova_installation_uuid == installation_uuid,
                   relations.c.instance_id == instance_id]
        if relation is not None:
            related.append(relations.c.relation == relation)
        query = sa.select(*columns, sa.literal(1).label('related')).select_from(
            images.join(relations, relations.c.image_id == images.c.id)).where(*related)
        if marker is not None:
            query = sa.union_all(query, sa.select(*columns, sa.literal(0)).where(
                images.c.id == marker))
        rows = query.subquery()
        order = [rows.c.sort_value, rows.c.id] if sort_key != 'id' else [rows.c.id]
        if sort_dir == 'desc':
            order = [column.desc() for column in order]
        with self._transaction() as connection:
            result = connection.execute(sa.select(rows).order_by(*order))
            found = {}
            for row in result:
                if row.id not in found or row.related:
                    found[row.id] = ImageRow(row.id, row.owner, bool(row.is_public),
                                             bool(row.deleted), bool(row.related))
        return list(found.values())

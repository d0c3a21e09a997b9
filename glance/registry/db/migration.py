"""Run the alembic migrations of the registry schema from code.

``glance-manage db sync`` and the registry's start-up (``db_auto_create``) both go
through :data:`REGISTRY`. Its history is recorded in its own version table,
``glance_registry_version``, not alembic's default ``alembic_version``, so that another
independent history (an optional filter's tables, recorded in e.g.
``instance_aware_version``) can live in the same database without either one seeing the
other's revisions. Such a history reuses :class:`MigrationHistory` with its own script
location and version table; its ``env.py`` takes the connection from
``config.attributes['connection']`` and the table from
``config.attributes['version_table']`` as ours does.
"""

from alembic import command
from alembic import config as alembic_config
from alembic import script
from alembic import util as alembic_util
from alembic.runtime import migration
from sqlalchemy import exc

from glance.common import exception
from glance.registry.db import models, session


class MigrationHistory:
    """One alembic history: where its scripts live and which table records it.

    :param script_location: alembic script location, ``package:folder``.
    :param version_table: name of the table that records the applied revision.
    """

    def __init__(self, script_location, version_table):
        self.script_location = script_location
        self.version_table = version_table

    def config(self, connection=None):
        """Return an alembic :class:`~alembic.config.Config` bound to ``connection``."""
        cfg = alembic_config.Config()
        cfg.set_main_option('script_location', self.script_location)
        cfg.attributes['connection'] = connection
        cfg.attributes['version_table'] = self.version_table
        return cfg

    def head(self):
        """Return the newest revision id of this history."""
        return script.ScriptDirectory.from_config(self.config()).get_current_head()

    def current(self, engine):
        """Return the revision the database is at, or None when never migrated."""
        with engine.connect() as connection:
            context = migration.MigrationContext.configure(
                connection, opts={'version_table': self.version_table})
            return context.get_current_revision()

    def upgrade(self, engine, revision='head'):
        """Upgrade the database to ``revision`` (all DDL in one transaction where the
        database supports transactional DDL).

        On SQLite, foreign keys are off while the revisions run: a revision that
        changes a column alembic cannot alter in place rebuilds the table (copy, drop,
        rename), and dropping ``images`` while property rows point at it would fail.
        The references are checked once the revisions are done.

        :raises IntegrityError: when a row of SQLite still points at a missing one.
        """
        sqlite = engine.dialect.name == 'sqlite'
        with engine.connect() as connection:
            if sqlite:
                # Outside any transaction (pysqlite opens one only before DML;
                # inside one SQLite ignores the pragma).
                connection.exec_driver_sql('PRAGMA foreign_keys=OFF')
                connection.commit()
            try:
                with connection.begin():
                    command.upgrade(self.config(connection), revision)
                    if sqlite:
                        _check_foreign_keys(connection)
            finally:
                if sqlite:
                    connection.exec_driver_sql('PRAGMA foreign_keys=ON')
                    connection.commit()


def _check_foreign_keys(connection):
    broken = connection.exec_driver_sql('PRAGMA foreign_key_check').first()
    if broken is not None:
        raise exc.IntegrityError('PRAGMA foreign_key_check', None,
                                 ValueError('a row of %s points at a missing row of %s'
                                            % (broken[0], broken[2])))


REGISTRY = MigrationHistory('glance.registry.db:migrations', 'glance_registry_version')
# The dialect-specific property indexes, which exist only in the migrations.
_PROPERTY_INDEXES = frozenset(models.property_sort_index(key)
                              for key in models.SORTED_COLUMNS + ('id',))


def include_object(obj, name, type_, reflected, compare_to):
    """Autogenerate filter: compare only the registry's own tables.

    Tables of other histories in the same database are left alone, and so are the
    dialect-specific property value indexes (see :mod:`glance.registry.db.models`).
    """
    if type_ == 'table':
        return name in models.Base.metadata.tables
    return not (type_ == 'index' and name in _PROPERTY_INDEXES)


def prepare_schema(engine, auto_create, history=REGISTRY):
    """Make sure the database schema is current before serving.

    :param engine: the registry engine.
    :param auto_create: upgrade to the newest revision (creating the tables on a new
        database); when False, only check that someone ran ``glance-manage db sync``.
    :param history: the :class:`MigrationHistory` to apply.
    :raises ConfigError: when the database cannot be used or its schema is not current.
    """
    try:
        if auto_create:
            history.upgrade(engine)
            return
        current, head = history.current(engine), history.head()
    except exc.SQLAlchemyError as err:
        raise exception.ConfigError('sql_connection', 'DEFAULT',
                                    'cannot use the database: %s'
                                    % session.describe_error(err, detail=True))
    except alembic_util.CommandError as err:
        raise exception.ConfigError('sql_connection', 'DEFAULT',
                                    'cannot migrate the database: %s' % err)
    if current != head:
        raise exception.ConfigError(
            'db_auto_create', 'DEFAULT',
            'the database schema is at revision %s but this release needs %s; run '
            '"glance-manage db sync" or set db_auto_create = true' % (current, head))

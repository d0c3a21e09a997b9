"""List indexes: property rows carry their image's sort keys, kept by triggers.

Revision ID: 0002_list_indexes
Revises: 0001
Create Date: 2026-11-30

A page filtered by a property and sorted by an image column is read from one index
``(name, value prefix, image_<key>, image_id)`` in page order, so it costs O(page)
whatever the number of matches (see :mod:`glance.registry.db.models`). The copies are
filled for existing rows and then kept by triggers: a new property row copies its
image's keys, and a change of an image's keys is copied to its property rows. The
property value index gains ``image_id`` so that a page sorted by id is read the same
way.

Values are written out literally (not imported from the models) so that this revision
keeps meaning the same schema when the models change later.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0002_list_indexes'
down_revision = '0002_format_safety'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
COPIES = (('created_at', TIMESTAMP), ('updated_at', TIMESTAMP),
          ('name', sa.String(255)), ('status', sa.String(30)),
          ('disk_format', sa.String(64)), ('container_format', sa.String(64)),
          ('size', sa.BigInteger()))
KEYS = [key for key, _ in COPIES]
VALUE_INDEX = 'ix_image_properties_name_value'
TRIGGER_ON_PROPERTIES = 'image_properties_copy_image_keys'
TRIGGER_ON_IMAGES = 'images_copy_keys_to_properties'


def _copies():
    return ', '.join('image_' + key for key in KEYS)


def _originals(prefix=''):
    return ', '.join(prefix + key for key in KEYS)


def _set_from_new():
    return ', '.join('image_%s = NEW.%s' % (key, key) for key in KEYS)


def _property_index(name, dialect, columns, mysql_length=255):
    """Index ``(name, value prefix, *columns)`` in the dialect's form of a prefix."""
    if dialect in ('mysql', 'mariadb'):
        op.create_index(name, 'image_properties', ['name', 'value'] + columns,
                        mysql_length={'value': mysql_length})
    else:
        op.create_index(name, 'image_properties',
                        ['name', sa.text('substr(value, 1, 255)')] + columns)


def _create_indexes(dialect):
    _property_index(VALUE_INDEX, dialect, ['image_id'])
    for key in KEYS:
        # MySQL caps an index entry at 3072 bytes: 191 characters of the value fit
        # beside the name, a 255-character copy and the image id.
        _property_index('ix_image_properties_by_%s' % key, dialect,
                        ['image_' + key, 'image_id'], mysql_length=191)


def _fill(dialect):
    """The statement copying every image's keys to its existing property rows.

    One join, not one subquery per copied column: each property row finds its image
    once (PostgreSQL and MySQL join the tables in bulk; SQLite, whose ``UPDATE ...
    FROM`` needs 3.33, assigns a row value from one lookup).
    """
    if dialect == 'postgresql':
        return ('UPDATE image_properties SET %s FROM images '
                'WHERE images.id = image_properties.image_id'
                % ', '.join('image_%s = images.%s' % (key, key) for key in KEYS))
    if dialect in ('mysql', 'mariadb'):
        return ('UPDATE image_properties JOIN images '
                'ON images.id = image_properties.image_id SET %s'
                % ', '.join('image_properties.image_%s = images.%s' % (key, key)
                            for key in KEYS))
    return ('UPDATE image_properties SET (%s) = (SELECT %s FROM images '
            'WHERE images.id = image_properties.image_id)' % (_copies(), _originals()))


def _triggers(dialect):
    """The statements creating the two triggers on ``dialect``."""
    if dialect == 'sqlite':
        return [
            'CREATE TRIGGER %s AFTER INSERT ON image_properties BEGIN '
            'UPDATE image_properties SET (%s) = (SELECT %s FROM images '
            'WHERE images.id = NEW.image_id) WHERE id = NEW.id; END'
            % (TRIGGER_ON_PROPERTIES, _copies(), _originals()),
            'CREATE TRIGGER %s AFTER UPDATE OF %s ON images BEGIN '
            'UPDATE image_properties SET %s WHERE image_id = NEW.id; END'
            % (TRIGGER_ON_IMAGES, _originals(), _set_from_new()),
        ]
    if dialect == 'postgresql':
        return [
            'CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
            'SELECT %s INTO %s FROM images WHERE id = NEW.image_id; RETURN NEW; END $$'
            % (TRIGGER_ON_PROPERTIES, _originals(), _originals('NEW.image_')),
            'CREATE TRIGGER %s BEFORE INSERT ON image_properties FOR EACH ROW '
            'EXECUTE FUNCTION %s()' % (TRIGGER_ON_PROPERTIES, TRIGGER_ON_PROPERTIES),
            'CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
            'UPDATE image_properties SET %s WHERE image_id = NEW.id; RETURN NULL; END $$'
            % (TRIGGER_ON_IMAGES, _set_from_new()),
            'CREATE TRIGGER %s AFTER UPDATE ON images FOR EACH ROW '
            'WHEN ((%s) IS DISTINCT FROM (%s)) EXECUTE FUNCTION %s()'
            % (TRIGGER_ON_IMAGES, _originals('OLD.'), _originals('NEW.'),
               TRIGGER_ON_IMAGES),
        ]
    return [
        # MySQL's SELECT ... INTO takes no NEW.column targets: one SET per copy.
        'CREATE TRIGGER %s BEFORE INSERT ON image_properties FOR EACH ROW SET %s'
        % (TRIGGER_ON_PROPERTIES, ', '.join(
            'NEW.image_%s = (SELECT %s FROM images WHERE id = NEW.image_id)' % (key, key)
            for key in KEYS)),
        'CREATE TRIGGER %s AFTER UPDATE ON images FOR EACH ROW '
        'UPDATE image_properties SET %s WHERE image_id = NEW.id'
        % (TRIGGER_ON_IMAGES, _set_from_new()),
    ]


def upgrade():
    """Add and fill the copies, create the triggers and the sorted property indexes."""
    dialect = op.get_context().dialect.name
    with op.batch_alter_table('image_properties') as batch:
        for key, type_ in COPIES:
            batch.add_column(sa.Column('image_' + key, type_, nullable=True))
    op.execute(_fill(dialect))
    for statement in _triggers(dialect):
        op.execute(statement)
    op.drop_index(VALUE_INDEX, 'image_properties')
    _create_indexes(dialect)


def downgrade():
    """Drop the triggers, indexes and copies; restore the property value index."""
    dialect = op.get_context().dialect.name
    op.execute('DROP TRIGGER %s%s' % (TRIGGER_ON_IMAGES,
                                      ' ON images' if dialect == 'postgresql' else ''))
    op.execute('DROP TRIGGER %s%s' % (TRIGGER_ON_PROPERTIES, ' ON image_properties'
                                      if dialect == 'postgresql' else ''))
    if dialect == 'postgresql':
        op.execute('DROP FUNCTION %s()' % TRIGGER_ON_IMAGES)
        op.execute('DROP FUNCTION %s()' % TRIGGER_ON_PROPERTIES)
    for key in KEYS:
        op.drop_index('ix_image_properties_by_%s' % key, 'image_properties')
    op.drop_index(VALUE_INDEX, 'image_properties')
    with op.batch_alter_table('image_properties') as batch:
        for key in KEYS:
            batch.drop_column('image_' + key)
    _property_index(VALUE_INDEX, dialect, [])

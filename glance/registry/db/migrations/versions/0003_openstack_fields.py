"""OpenStack image fields: visibility, protected, min_disk/min_ram, tags and members.

Revision ID: 0003_openstack_fields
Revises: 0002_list_indexes
Create Date: 2026-11-30

``images.visibility`` (public, private, shared, community) replaces ``is_public``:
public images stay public and every other image becomes ``shared`` (visible to its
owner, and to members once it has some), which is what ``is_public = false`` meant.
``protected`` (no delete while true), ``min_disk`` and ``min_ram`` get their defaults
on existing rows. Two tables: ``image_tags`` and ``image_members``.

``is_public`` is dropped in place on every database, never by rebuilding ``images``:
a rebuild would drop the triggers of ``0002_list_indexes`` that keep the property
rows' sort-key copies (SQLite drops a table's triggers with the table), and no index
or trigger names the column. ``ix_images_visibility`` lets a visibility filter seek
its images and read them in the default order.

Values are written out literally (not imported from the models) so that this revision
keeps meaning the same schema when the models change later.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0003_openstack_fields'
down_revision = '0002_list_indexes'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
MYSQL_TABLE = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4',
               'mysql_collate': 'utf8mb4_bin'}
VISIBILITY_INDEX = 'ix_images_visibility'


def _add_image_columns():
    op.add_column('images', sa.Column('visibility', sa.String(16), nullable=False,
                                      server_default='shared'))
    op.add_column('images', sa.Column('protected', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.add_column('images', sa.Column('min_disk', sa.Integer(), nullable=False,
                                      server_default='0'))
    op.add_column('images', sa.Column('min_ram', sa.Integer(), nullable=False,
                                      server_default='0'))


def _drop_column(table, column):
    """Drop a column in place (SQLite 3.35+ can; alembic would rebuild the table)."""
    if op.get_context().dialect.name == 'sqlite':
        op.execute('ALTER TABLE %s DROP COLUMN %s' % (table, column))
    else:
        op.drop_column(table, column)


def upgrade():
    """Convert ``is_public`` to ``visibility``; add the other columns and tables."""
    _add_image_columns()
    # Only public rows change, so MySQL's update trigger fires for those alone.
    op.execute("UPDATE images SET visibility = 'public' WHERE is_public = %s"
               % ('1' if op.get_context().dialect.name == 'sqlite' else 'true'))
    _drop_column('images', 'is_public')
    op.create_index(VISIBILITY_INDEX, 'images',
                    ['visibility', 'deleted', 'created_at', 'id'])

    op.create_table(
        'image_tags',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('image_id', sa.String(36),
                  sa.ForeignKey('images.id', name='fk_image_tags_image_id'),
                  nullable=False),
        sa.Column('value', sa.String(255), nullable=False),
        sa.UniqueConstraint('image_id', 'value', name='uq_image_tags_image_id_value'),
        **MYSQL_TABLE)
    op.create_index('ix_image_tags_value_image_id', 'image_tags', ['value', 'image_id'])

    op.create_table(
        'image_members',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('image_id', sa.String(36),
                  sa.ForeignKey('images.id', name='fk_image_members_image_id'),
                  nullable=False),
        sa.Column('member_id', sa.String(255), nullable=False),
        sa.Column('can_share', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.Column('deleted_at', TIMESTAMP, nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.UniqueConstraint('image_id', 'member_id',
                            name='uq_image_members_image_id_member_id'),
        **MYSQL_TABLE)
    op.create_index('ix_image_members_member', 'image_members',
                    ['member_id', 'deleted', 'status', 'image_id'])


def downgrade():
    """Back to ``is_public`` (true for public images); tags, members and the other
    columns are dropped."""
    op.drop_table('image_members')
    op.drop_table('image_tags')
    op.drop_index(VISIBILITY_INDEX, 'images')
    op.add_column('images', sa.Column('is_public', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE images SET is_public = %s WHERE visibility = 'public'"
               % ('1' if op.get_context().dialect.name == 'sqlite' else 'true'))
    for column in ('min_ram', 'min_disk', 'protected', 'visibility'):
        _drop_column('images', column)

"""Initial registry schema: images, image_chunks, image_properties.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Values are written out literally (not imported from the models) so that this revision
keeps meaning the same schema when the models change later.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb')
MYSQL_TABLE = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4',
               'mysql_collate': 'utf8mb4_bin'}


def upgrade():
    """Create the three tables and their indexes."""
    op.create_table(
        'images',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255), nullable=True),
        sa.Column('status', sa.String(30), nullable=False),
        sa.Column('is_public', sa.Boolean(), nullable=False),
        sa.Column('owner', sa.String(255), nullable=True),
        sa.Column('disk_format', sa.String(64), nullable=True),
        sa.Column('container_format', sa.String(64), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('checksum', sa.String(32), nullable=True),
        sa.Column('sha256', sa.String(64), nullable=True),
        sa.Column('xxh3', sa.String(32), nullable=True),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.Column('deleted_at', TIMESTAMP, nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        **MYSQL_TABLE)
    # Lists read "deleted = false ORDER BY <sort key>, id": one index per sort key.
    for key in ('created_at', 'updated_at', 'name', 'status', 'disk_format',
                'container_format', 'size'):
        op.create_index('ix_images_deleted_%s_id' % key, 'images', ['deleted', key, 'id'])
    op.create_index('ix_images_owner', 'images', ['owner'])

    op.create_table(
        'image_chunks',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('image_id', sa.String(36),
                  sa.ForeignKey('images.id', name='fk_image_chunks_image_id'),
                  nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('location', sa.String(2048), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('checksum', sa.String(255), nullable=True),
        sa.UniqueConstraint('image_id', 'position',
                            name='uq_image_chunks_image_id_position'),
        **MYSQL_TABLE)

    op.create_table(
        'image_properties',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('image_id', sa.String(36),
                  sa.ForeignKey('images.id', name='fk_image_properties_image_id'),
                  nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('value', LONG_TEXT, nullable=False),
        sa.UniqueConstraint('image_id', 'name', name='uq_image_properties_image_id_name'),
        **MYSQL_TABLE)
    # A value may be far longer than a B-tree entry, so only its first 255 characters
    # are indexed: a prefix index on MySQL, an expression index elsewhere.
    if op.get_context().dialect.name in ('mysql', 'mariadb'):
        op.create_index('ix_image_properties_name_value', 'image_properties',
                        ['name', 'value'], mysql_length={'value': 255})
    else:
        op.create_index('ix_image_properties_name_value', 'image_properties',
                        ['name', sa.text('substr(value, 1, 255)')])


def downgrade():
    """Drop the three tables."""
    op.drop_table('image_properties')
    op.drop_table('image_chunks')
    op.drop_table('images')

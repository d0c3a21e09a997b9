"""Create the related-images table.

Revision ID: instance_aware_0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = 'instance_aware_0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    """Create ``instance_aware_relations`` and its lookup index."""
    op.create_table(
        'instance_aware_relations',
        sa.Column('image_id', sa.String(36), primary_key=True),
        sa.Column('nova_installation_uuid', sa.String(36), nullable=False),
        sa.Column('instance_id', sa.String(36), nullable=False),
        sa.Column('relation', sa.String(32), nullable=False),
        sa.Column('created_at', sa.DateTime().with_variant(mysql.DATETIME(fsp=6),
                                                           'mysql', 'mariadb'),
                  nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4', mysql_collate='utf8mb4_bin')
    op.create_index('ix_instance_aware_relations_instance', 'instance_aware_relations',
                    ['nova_installation_uuid', 'instance_id', 'relation'])


def downgrade():
    """Drop the table (and with it every recorded relation)."""
    op.drop_index('ix_instance_aware_relations_instance', 'instance_aware_relations')
    op.drop_table('instance_aware_relations')

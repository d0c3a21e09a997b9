"""Format safety: record the format glance-api detected and the virtual disk size.

Revision ID: 0002_format_safety
Revises: 0001
Create Date: 2026-11-30

``detected_format`` is what the format inspector found in the data (raw, qcow2, gpt,
iso...); ``virtual_size`` is the disk size a guest sees, as v2 clients expect it.
Both stay null for images stored before inspection existed.
"""

from alembic import op
import sqlalchemy as sa

revision = '0002_format_safety'
down_revision = '0002_blake3_digest'
branch_labels = None
depends_on = None


def upgrade():
    """Add the two nullable columns to ``images``."""
    with op.batch_alter_table('images') as batch:
        batch.add_column(sa.Column('detected_format', sa.String(64), nullable=True))
        batch.add_column(sa.Column('virtual_size', sa.BigInteger(), nullable=True))


def downgrade():
    """Drop the two columns."""
    with op.batch_alter_table('images') as batch:
        batch.drop_column('virtual_size')
        batch.drop_column('detected_format')

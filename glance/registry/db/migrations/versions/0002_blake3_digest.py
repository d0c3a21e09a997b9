"""BLAKE3 replaces XXH3 as the digest that guards downloads.

Revision ID: 0002_blake3_digest
Revises: 0001
Create Date: 2026-11-30

Adds ``images.blake3`` (64 hex digits) and drops ``images.xxh3``. XXH3 is not
collision-resistant, so its values are not carried over: images uploaded before this
revision are verified against their sha256 (or md5) and get a BLAKE3 on their next
full download. Batch mode lets SQLite, which cannot drop a column in place, rebuild
the table.
"""

from alembic import op
import sqlalchemy as sa

revision = '0002_blake3_digest'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    """Add ``blake3`` and drop ``xxh3``."""
    with op.batch_alter_table('images') as batch:
        batch.add_column(sa.Column('blake3', sa.String(64), nullable=True))
        batch.drop_column('xxh3')


def downgrade():
    """Bring back an empty ``xxh3`` and drop ``blake3``."""
    with op.batch_alter_table('images') as batch:
        batch.add_column(sa.Column('xxh3', sa.String(32), nullable=True))
        batch.drop_column('blake3')

"""Revisions of the registry schema, oldest first (alembic reads them by revision id)."""

"""Alembic migrations of the registry schema (run through glance.registry.db.migration)."""

"""Fixtures for functional tests: real databases, real daemons, real storage services."""

from tests.functional.daemons import make_api, make_registry  # noqa: F401
from tests.functional.databases import database_url, make_database  # noqa: F401

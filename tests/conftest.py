"""Suite-wide pytest hooks: every unit test runs before any functional test.

Unit tests need nothing running and take about a minute, so a broken build fails
fast; the functional tests (real daemons, databases and storage services) follow.
pytest would collect ``tests/functional`` first (alphabetical order), whatever paths
are given; the sort is stable, so the order inside each group is unchanged.
"""

import os

from hypothesis import HealthCheck, settings


def pytest_collection_modifyitems(items):
    """Put the items of ``tests/functional`` after all the others."""
    items.sort(key=lambda item: 'functional' in item.path.parts)


# Property-based tests (hypothesis) must not fail on timing: no per-example deadline
# and no "too slow" health check on this shared 2-core machine.
settings.register_profile('glance', deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
# Under mutation testing (mutmut sets MUTANT_UNDER_TEST) each test runs once per
# mutant: fewer examples keep that feasible on two cores.
settings.register_profile('mutation', parent=settings.get_profile('glance'),
                          max_examples=20)
settings.load_profile('mutation' if os.environ.get('MUTANT_UNDER_TEST') else 'glance')

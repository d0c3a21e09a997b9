"""Every database driver the registry accepts, against the real servers.

The registry serves all requests of a process from one eventlet hub, so a driver
must hand its waits to the hub: a slow query must not stall a concurrent request in
the same process (``slow_query_probe.py``, run in its own monkey-patched process).
Each accepted PostgreSQL driver also serves a registry daemon end to end.
"""

import json
import os
import subprocess
import sys

import pytest

from glance.common.context import RequestContext
from tests.functional import daemons

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'slow_query_probe.py')
SLOW_QUERY_SECONDS = 3
ALICE = RequestContext(tenant='alice', user='alice', roles=['member'])


def _with_driver(url, driver):
    backend, rest = url.split('://', 1)
    return '%s+%s://%s' % (backend.split('+')[0], driver, rest)


def _probe(url, *flags):
    done = subprocess.run([sys.executable, PROBE, url, str(SLOW_QUERY_SECONDS)] +
                          list(flags), capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=daemons.REPO))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('kind, driver', [('postgresql', 'psycopg'),
                                          ('postgresql', 'psycopg2'),
                                          ('postgresql', 'pg8000'),
                                          ('mysql', 'pymysql')])
def test_a_slow_query_does_not_stall_other_reads_of_the_process(make_database, kind,
                                                                driver):
    url = _with_driver(make_database(kind).url, driver)
    result = _probe(url)
    assert result['reads_before_slow_done'] == result['reads'], result


def test_psycopg_c_wait_would_stall_the_process_without_cooperate(make_database):
    # The control: the probe does see a blocking driver, and drivers.cooperate is what
    # keeps psycopg's C speedups from being one.
    url = _with_driver(make_database('postgresql').url, 'psycopg')
    result = _probe(url, '--no-cooperate')
    assert result['reads_before_slow_done'] == 0, result


@pytest.mark.parametrize('driver', ['psycopg', 'psycopg2', 'pg8000'])
def test_every_postgresql_driver_serves_the_registry(make_database, make_registry,
                                                     make_client, driver):
    registry = make_registry(sql_connection=_with_driver(
        make_database('postgresql').url, driver))
    client = make_client([registry.url]).with_context(ALICE)
    created = client.create_image({'name': 'on-%s' % driver, 'tags': ['t'],
                                   'properties': {'os_distro': 'ubuntu'}})
    image = client.get_image(created['id'])
    assert (image['name'], image['tags'], image['properties']) == (
        'on-%s' % driver, ['t'], {'os_distro': 'ubuntu'})
    listed = client.list_images(detail=True, filters={'property-os_distro': 'ubuntu'},
                                sort_key='name', sort_dir='asc')
    assert [item['id'] for item in listed['images']] == [created['id']]

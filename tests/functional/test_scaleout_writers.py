"""Concurrent writers through both registries on each database.

Two glance-registry daemons with two workers each (four processes) behind HAProxy
on one database take 200 writes released at the same moment: 100 image creates, 60
updates that each add their own property to one shared image, and 20 pairs of
conflicting status changes (``queued`` to ``active`` and to ``killed`` at once, where
only one may win). The semantics checked (README, "Concurrent writers"):

* every write is answered 2xx, or a clean 4xx, or 503 with ``Retry-After`` and a
  JSON reason (the database was busy: retry later); never a 500 or a balancer error;
* a 2xx write is in the database afterwards; a refused one changed nothing: every
  image whose create succeeded is there with its properties, the shared image holds
  exactly the properties whose update succeeded (no lost update), and of two
  conflicting status changes at most one succeeds (409 for the other), the image
  ending in the status that won.

SQLite is included with its documented limits: its writers take turns on one file
lock, so a write that waits for it longer than its busy timeout is refused with 503.
"""

import concurrent.futures
import threading
import uuid

import pytest

from tests.functional import databases, scaleout
from tests.functional.test_registry_api import Registry

CREATES, UPDATES, PAIRS = 100, 60, 20
SERVICE = ('service',)


@pytest.fixture(params=databases.KINDS)
def registries(request, tmp_path):
    """Two registries (two workers each) behind HAProxy on one database."""
    database = databases.create_database(request.param, tmp_path)
    deployment = scaleout.Deployment(tmp_path, database.url, apis=0)
    try:
        deployment.start()
        deployment.wait_for_workers()
        yield Registry(deployment.registry_front, database)
    finally:
        deployment.stop()
        database.drop()


def check_refusal(reply):
    """A refused write: a clean 4xx, or a 503 that says when to retry; never a 500."""
    assert reply.status in (400, 409, 503), (reply.status, reply.body[:300])
    assert reply.json['error']['message'] and b'Traceback' not in reply.body
    if reply.status == 503:
        assert int(reply.headers['Retry-After']) > 0


def test_200_concurrent_creates_and_updates_lose_nothing(registries):
    tenant = 'writers-' + uuid.uuid4().hex[:8]
    shared = registries.create(tenant, name='shared')
    contested = [registries.create(tenant, name='contested') for _ in range(PAIRS)]
    start = threading.Barrier(CREATES + UPDATES + 2 * PAIRS)

    def call(method, path, body, roles=()):
        start.wait(60)
        return registries.call(method, path, {'image': body}, tenant=tenant, roles=roles)

    writes = {'create': [], 'update': [], 'status': []}
    with concurrent.futures.ThreadPoolExecutor(start.parties) as pool:
        for index in range(CREATES):
            writes['create'].append((index, pool.submit(
                call, 'POST', '/images', {'name': 'c%03d' % index,
                                          'properties': {'n': str(index)}})))
        for index in range(UPDATES):
            writes['update'].append(('k%03d' % index, pool.submit(
                call, 'PUT', '/images/' + shared['id'],
                {'properties': {'k%03d' % index: 'v'}})))
        for image in contested:
            for status in ('active', 'killed'):
                writes['status'].append(((image['id'], status), pool.submit(
                    call, 'PUT', '/images/' + image['id'], {'status': status},
                    SERVICE)))
        replies = {kind: [(key, future.result()) for key, future in futures]
                   for kind, futures in writes.items()}

    succeeded = {kind: [] for kind in replies}
    for kind, answered in replies.items():
        for key, reply in answered:
            if reply.status in (200, 201):
                succeeded[kind].append((key, reply))
            else:
                check_refusal(reply)
    statuses = sorted(reply.status for answered in replies.values()
                      for _, reply in answered)
    print('%s: %s' % (registries.database.kind,
                      {status: statuses.count(status) for status in set(statuses)}))
    # Most writes get through (a refusal is the exception, not the rule).
    assert sum(map(len, succeeded.values())) > start.parties // 2, statuses

    winners = {}
    for (image_id, status), _ in succeeded['status']:
        assert image_id not in winners, 'both status changes of %s succeeded' % image_id
        winners[image_id] = status
    # What the database holds now: every image of the tenant, in full.
    listed, _ = registries.walk('/images/detail?limit=100&owner=' + tenant, tenant)
    stored = {image['id']: image for image in listed}
    expected = {reply.json['image']['id']: {'n': str(index)}
                for index, reply in succeeded['create']}
    expected[shared['id']] = {key: 'v' for key, _ in succeeded['update']}
    expected.update((image['id'], {}) for image in contested)
    assert {image_id: image['properties'] for image_id, image in stored.items()} == \
        expected
    for image in contested:
        assert stored[image['id']]['status'] == winners.get(image['id'], 'queued')
    # registries.daemon is the front end: its log is both registries' logs.
    assert 'Traceback' not in registries.daemon.read_log()

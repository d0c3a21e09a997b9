"""Faults in a scaled-out deployment, under a bounded load on loopback.

Each test runs :class:`tests.functional.scaleout.Deployment` (two registries and two
glance-apis, two workers each, behind HAProxy) with a :class:`tests.functional.load.Load`
of uploads and byte-exact downloads through glance-api's front end, injects one
kind of fault, and then checks that only operations in flight during the fault
failed, that every image whose upload was answered 201 still downloads byte-exact,
and that the daemons were neither restarted nor replaced:

* SIGKILL of one registry, then of one glance-api (master and workers, by PID), on
  PostgreSQL and on MariaDB;
* a restart of the database (a private PostgreSQL, a private MariaDB);
* a registry that hangs (SIGSTOP): HAProxy's health check takes it out and new
  requests go to the other one; those it held finish when it goes on;
* glance-api drained with its healthcheck ``disable_path``: its download in flight
  finishes, new requests go to the other one.
"""

import hashlib
import os
import signal
import time

import pytest

from tests.data import random_bytes
from tests.functional import scaleout
from tests.functional.availability import service_unavailable
from tests.functional.load import Load
from tests.functional.private_mariadb import PrivateMariaDB
from tests.functional.private_postgres import PrivatePostgres
from tests.functional.test_api_images import USER, Api, wait_until


@pytest.fixture
def deploy(tmp_path, make_database):
    """Factory: ``deploy(sql_connection, **options)`` → a started Deployment (stopped
    before the databases of ``make_database`` are dropped)."""
    started = []

    def make(sql_connection, **options):
        deployment = scaleout.Deployment(tmp_path / ('d%d' % len(started)),
                                         sql_connection, **options)
        started.append(deployment)
        deployment.start().wait_for_workers()
        return deployment

    yield make
    for deployment in started:
        deployment.stop()


def processes(deployment):
    """``{name: (master pid, worker pids)}`` of every daemon still running."""
    return {name: (daemon.pid, frozenset(daemon.workers()))
            for name, daemon in deployment.daemons.items()
            if daemon.process.poll() is None}


def check_outcome(load, deployment):
    """Failures only in flight during a fault, every 201 image still downloads."""
    print(load.summary())
    assert load.failures_outside_faults() == [], load.summary()
    for operation in load.failures():
        assert operation.status != 500, load.summary()
    load.check_every_upload_downloads()
    for name, daemon in deployment.registry_front.daemons.items():
        assert 'Traceback' not in daemon.read_log(), name


@pytest.mark.parametrize('kind', ['postgresql', 'mysql'])
def test_sigkill_of_a_registry_and_a_glance_api_fails_only_requests_in_flight(
        deploy, make_database, kind):
    deployment = deploy(make_database(kind).url)
    survivors = processes(deployment)
    with Load(deployment.api_front.url, clients=6) as load:
        load.wait_for(20)
        with load.fault('registry1 killed'):
            scaleout.kill(deployment.daemons['registry1'])
        load.wait_for(25)
        with load.fault('api1 killed'):
            scaleout.kill(deployment.daemons['api1'])
        load.wait_for(25)
    check_outcome(load, deployment)
    del survivors['registry1'], survivors['api1']
    assert processes(deployment) == survivors


@pytest.fixture(params=['postgresql', 'mysql'])
def private_database(request):
    """A private database server of that kind that the test may restart."""
    try:
        server = PrivatePostgres() if request.param == 'postgresql' else PrivateMariaDB()
        server.start()
    except Exception as err:  # no binaries, initdb refused: report, not crash
        service_unavailable('private %s cannot start: %s: %s'
                            % (request.param, type(err).__name__, err))
    yield server
    server.destroy()


def test_a_database_restart_under_load_needs_no_daemon_restart(private_database,
                                                               deploy):
    url = (private_database.url if isinstance(private_database, PrivatePostgres)
           else private_database.create_database('glance'))
    deployment = deploy(url, registry_options={'sql_pool_timeout': 5})
    before = processes(deployment)
    with Load(deployment.api_front.url, clients=4) as load:
        load.wait_for(16)
        with load.fault('database restarted'):
            private_database.restart()
        load.wait_for(24)
    # While the database was down: clean 503s that say when to retry.
    for operation in load.failures():
        assert operation.status == 503 and operation.retry_after, load.summary()
    check_outcome(load, deployment)
    assert processes(deployment) == before


def test_a_hung_registry_is_taken_out_by_the_health_check(deploy, make_database):
    deployment = deploy(make_database('postgresql').url)
    hung = deployment.daemons['registry1']
    pids = [hung.pid] + sorted(hung.workers())
    front = deployment.registry_front.url
    try:
        with Load(deployment.api_front.url, clients=4) as load:
            load.wait_for(10)
            with load.fault('registry1 stopped'):
                for pid in pids:
                    os.kill(pid, signal.SIGSTOP)
                stopped = time.monotonic()
                # Taken out: the next answers all come from the other registry.
                wait_until(lambda: {scaleout.backend_of(front) for _ in range(4)}
                           == {'registry2'}, 'registry1 to be taken out', timeout=20)
                taken_out = time.monotonic() - stopped
            # Requests on registry1 when it stopped wait for it (the balancer does
            # not cut them), so fresh clients show that new requests go on.
            with Load(deployment.api_front.url, clients=4) as after:
                after.wait_for(24)
            assert after.failures() == [], after.summary()
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    print('registry1 taken out %.1f s after SIGSTOP' % taken_out)
    # The requests that waited for registry1 finished once it went on.
    check_outcome(load, deployment)
    after.check_every_upload_downloads()
    # Back in the pool once it answers again.
    wait_until(lambda: 'registry1' in {scaleout.backend_of(front) for _ in range(4)},
               'registry1 to come back')


def test_a_drained_glance_api_finishes_its_downloads_and_takes_no_new_ones(
        deploy, make_database):
    deployment = deploy(make_database('postgresql').url)
    front = Api(deployment.api_front.url)
    data = random_bytes(8 * 1024 * 1024, seed=21)
    resp = front.upload(data, name='drain')
    assert resp.status == 201, resp.body
    path = '/images/' + resp.json()['image']['id']
    drained = front.request('HEAD', path, USER).headers['x-glance-backend']
    other = ({'api1', 'api2'} - {drained}).pop()
    served = []

    def drain():
        open(deployment.disable_path(drained), 'w').close()
        wait_until(lambda: front.request('HEAD', path, USER).headers.get(
            'x-glance-backend') == other, 'haproxy to drain %s' % drained)
        for _ in range(4):
            resp = front.request('GET', path, USER)
            assert resp.status == 200 and resp.body == data
            served.append(resp.headers['x-glance-backend'])

    status, body, error = front.read_streaming(path, USER, pause_after=1024 * 1024,
                                               on_pause=drain)
    assert (status, error) == (200, None)
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert served == [other] * 4
    # The drained daemon served nothing after the download that was in flight.
    log = deployment.daemons[drained].read_log()
    assert log.count('GET %s' % path) == 1, log[-3000:]

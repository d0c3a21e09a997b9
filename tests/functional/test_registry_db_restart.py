"""The database restarts while the registry serves requests: the registry recovers by
itself. A private PostgreSQL server (never the machine's shared one) is restarted
under a bounded load of reads and writes."""

import http.client
import json
import threading
import urllib.parse

import pytest

from tests.functional import daemons
from tests.functional.availability import service_unavailable
from tests.functional.private_postgres import PrivatePostgres

SERVICE = {'X-Tenant-Id': 'restart', 'X-Service-Roles': 'service',
           'Content-Type': 'application/json'}
REQUESTS_PER_WORKER = 400


@pytest.fixture
def private_postgres():
    try:
        server = PrivatePostgres()
        server.start()
    except Exception as err:  # no binaries, initdb refused: report, not crash
        service_unavailable('private PostgreSQL cannot start: %s: %s'
                            % (type(err).__name__, err))
    yield server
    server.destroy()


def _request(url, method, path, body=None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(method, path, body=json.dumps(body).encode() if body else None,
                     headers=SERVICE)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b'null')
    finally:
        conn.close()


def test_registry_recovers_after_its_database_restarts_under_load(tmp_path,
                                                                  private_postgres):
    daemon = daemons.registry_daemon(tmp_path, private_postgres.url, sql_pool_timeout=5)
    daemon.start()
    try:
        statuses, bodies, stop = [], [], threading.Event()

        def worker():
            for index in range(REQUESTS_PER_WORKER):
                if stop.is_set():
                    return
                if index % 2:
                    status, body = _request(daemon.url, 'GET', '/images/detail?limit=5')
                else:
                    status, body = _request(daemon.url, 'POST', '/images',
                                            {'image': {'name': 'load-%d' % index}})
                statuses.append(status)
                bodies.append(body)

        workers = [threading.Thread(target=worker) for _ in range(3)]
        for thread in workers:
            thread.start()
        try:
            # Restart once the load is running (condition, not a sleep).
            while len(statuses) < 30 and any(t.is_alive() for t in workers):
                threading.Event().wait(0.05)
            private_postgres.restart()
            served_before = len(statuses)
            while (len(statuses) < served_before + 60
                   and any(t.is_alive() for t in workers)):
                threading.Event().wait(0.05)
        finally:
            stop.set()
            for thread in workers:
                thread.join(120)

        assert daemon.process.poll() is None, 'the registry died'
        # While the database was down: 503 with a reason; never a 500.
        assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
        for status, body in zip(statuses, bodies):
            if status == 503:
                assert 'Traceback' not in json.dumps(body) and body['error']['message']
        # After the restart, with nobody's help, every request succeeds again.
        for index in range(10):
            status, body = _request(daemon.url, 'POST', '/images',
                                    {'image': {'name': 'after-%d' % index}})
            assert status == 201, body
            status, body = _request(daemon.url, 'GET',
                                    '/images/' + body['image']['id'])
            assert status == 200, body
        log = daemon.read_log()
        assert 'Traceback' not in log, log[max(0, log.find('Traceback') - 1500):][:4000]
    finally:
        daemon.stop()

"""Observability of the real daemons: Prometheus metrics scraped by a real Prometheus,
request ids across glance-api, glance-registry and the stores' log lines, the access
log, JSON logs, and the detailed health check.
"""

import json
import os
import time
import uuid

import pytest
from prometheus_client import parser

from tests.data import random_bytes
from tests.functional import daemons
from tests.functional.test_api_images import ADMIN, USER, Api

IMAGE_ROUTE = '/images/{image_id}'


def _samples(text):
    """``{(name, sorted label items): value}`` of a /metrics exposition."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in parser.text_string_to_metric_families(text)
            for sample in family.samples}


def _wait_for_log(daemon, condition, timeout=30):
    """Poll the daemon's log until ``condition(lines)`` is true; return the lines."""
    deadline = time.monotonic() + timeout
    while True:
        lines = daemon.read_log().splitlines()
        if condition(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


@pytest.fixture
def gunicorn_api(tmp_path, make_registry):
    """glance-registry (built-in server) and glance-api under gunicorn, 2 workers."""
    registry = make_registry()
    api = daemons.api_daemon(tmp_path / 'api-gunicorn', registry.url, server='gunicorn',
                             store_chunk_size=64 * 1024)
    yield registry, api.start()
    api.stop()


def test_prometheus_stores_request_store_and_pool_series_of_both_daemons(
        gunicorn_api, make_prometheus, tmp_path):
    registry, api_daemon = gunicorn_api
    api = Api(api_daemon.url)
    data = random_bytes(200 * 1024)
    created = api.upload(data)
    assert created.status == 201
    image_id = created.json()['image']['id']
    for _ in range(5):
        assert api.request('GET', '/images/' + image_id, USER).body == data
    assert api.request('GET', '/images/%s' % uuid.uuid4(), USER).status == 404
    datadir = os.path.join(str(tmp_path / 'api-gunicorn'), 'images')
    os.remove(os.path.join(datadir, sorted(os.listdir(datadir))[0]))
    assert api.request('GET', '/images/' + image_id, USER).status == 502

    # Every worker's scrape sums every worker's counts (multi-process mode): ask a
    # few times, over new connections, which gunicorn spreads over its workers.
    for _ in range(6):
        samples = _samples(api.request('GET', '/metrics').body.decode())
        assert samples[('glance_http_requests_total', (
            ('method', 'GET'), ('route', IMAGE_ROUTE), ('status', '200')))] == 5

    prometheus = make_prometheus({'glance-api': api_daemon.url,
                                  'glance-registry': registry.url})
    api_job, registry_job = 'job="glance-api"', 'job="glance-registry"'
    expectations = [
        ('up{%s}' % api_job, lambda v: v == 1),
        ('up{%s}' % registry_job, lambda v: v == 1),
        ('glance_http_requests_total{%s,route="%s",method="GET",status="200"}'
         % (api_job, IMAGE_ROUTE), lambda v: v == 5),
        ('glance_http_requests_total{%s,route="%s",method="GET",status="404"}'
         % (api_job, IMAGE_ROUTE), lambda v: v == 1),
        ('glance_http_requests_total{%s,route="/images",method="POST",status="201"}'
         % api_job, lambda v: v == 1),
        ('glance_http_request_bytes_total{%s,route="/images",method="POST"}' % api_job,
         lambda v: v == len(data)),
        ('glance_http_response_bytes_total{%s,route="%s",method="GET"}'
         % (api_job, IMAGE_ROUTE), lambda v: v >= 5 * len(data)),
        ('glance_http_request_duration_seconds_bucket{%s,route="%s",method="GET",'
         'le="+Inf"}' % (api_job, IMAGE_ROUTE), lambda v: v == 7),
        ('glance_http_requests_in_flight{%s}' % api_job, lambda v: v == 0),
        ('glance_streams_in_flight{%s,direction="out"}' % api_job, lambda v: v == 0),
        ('glance_store_request_duration_seconds_count{%s,store="file",operation="add"}'
         % api_job, lambda v: v == 4),
        # Four chunks: at least one download read them all from the store (later
        # ones may come from an image cache).
        ('glance_store_request_duration_seconds_count{%s,store="file",operation="get"}'
         % api_job, lambda v: v >= 4),
        ('glance_store_errors_total{%s,store="file",operation="head",'
         'error="ObjectNotFound"}' % api_job, lambda v: v >= 1),
        ('glance_http_requests_total{%s,route="%s",method="GET",status="200"}'
         % (registry_job, IMAGE_ROUTE), lambda v: v >= 6),
        ('glance_db_pool_size{%s}' % registry_job, lambda v: v >= 1),
        ('glance_db_pool_checked_out{%s}' % registry_job, lambda v: v == 0),
        ('glance_cache_hits_total{%s}' % api_job, lambda v: v == 0),
    ]
    for expression, condition in expectations:
        prometheus.wait_for(expression, condition)


@pytest.mark.parametrize('wsgi_server', ['eventlet', 'gunicorn'])
def test_request_id_reaches_registry_and_store_log_lines_with_json_access_log(
        make_registry, make_api, wsgi_server):
    registry = make_registry(server=wsgi_server)
    api_daemon = make_api(registry.url, server=wsgi_server, log_json='true',
                          log_level='DEBUG')
    api = Api(api_daemon.url)
    data = random_bytes(10000)
    image_id = api.upload(data).json()['image']['id']
    request_id = 'req-observability-%s' % uuid.uuid4().hex[:8]
    token = 'tok-%s' % uuid.uuid4().hex
    response = api.request('GET', '/images/' + image_id, dict(
        USER, **{'X-Request-Id': request_id, 'X-Auth-Token': token}))
    assert response.status == 200 and response.headers['x-request-id'] == request_id

    def ours(lines):
        return [entry for entry in map(json.loads, lines)
                if entry['request_id'] == request_id]

    lines = _wait_for_log(api_daemon, lambda lines: any(
        entry['logger'] == 'glance.access' for entry in ours(lines)))
    entries = ours(lines)
    access = [entry for entry in entries if entry['logger'] == 'glance.access']
    assert len(access) == 1
    assert access[0]['identity'] == 'tenant1/user1'
    assert (access[0]['status'], access[0]['bytes']) == ('200', len(data))
    assert access[0]['duration'] >= 0 and access[0]['complete'] is True
    assert any(entry['logger'] == 'glance.store.metered' and 'head' in entry['message']
               for entry in entries)
    registry_lines = _wait_for_log(registry, lambda lines: any(
        request_id in line and 'glance.access' in line for line in lines))
    assert any('[%s]' % request_id in line and 'glance.access' in line
               and 'tenant1/user1' in line for line in registry_lines)
    assert token not in api_daemon.read_log() + registry.read_log()


def test_healthcheck_detail_reports_dependencies_to_admins_only(make_registry, make_api):
    registry = make_registry()
    api_daemon = make_api(registry.url)
    registry_api, api = Api(registry.url), Api(api_daemon.url)
    for daemon_api in (registry_api, api):
        assert daemon_api.request('GET', '/healthcheck').body == b'OK\n'
        assert daemon_api.request('GET', '/healthcheck?detail', USER).status == 403
    detail = registry_api.request('GET', '/healthcheck?detail', ADMIN)
    assert detail.status == 200
    assert detail.json()['checks']['database']['ok'] is True
    assert detail.json()['checks']['database']['backend'] == 'sqlite'
    detail = api.request('GET', '/healthcheck?detail', ADMIN)
    assert detail.status == 200 and detail.json()['healthy'] is True
    checks = detail.json()['checks']
    assert checks['registry %s' % registry.url]['ok'] is True
    assert checks['store file'] == dict(checks['store file'], ok=True, probed=True)
    assert checks['store http']['probed'] is False

    registry.stop()
    detail = api.request('GET', '/healthcheck?detail', ADMIN)
    assert detail.status == 503 and detail.json()['healthy'] is False
    failed = detail.json()['checks']['registry %s' % registry.url]
    assert failed['ok'] is False and 'refused' in failed['error']
    assert api.request('GET', '/healthcheck').body == b'OK\n'


def test_registry_detail_and_pool_series_on_each_database(make_registry, database_url):
    registry = make_registry(sql_connection=database_url)
    registry_api = Api(registry.url)
    detail = registry_api.request('GET', '/healthcheck?detail', ADMIN).json()
    backend = detail['checks']['database']['backend']
    assert detail['healthy'] is True and database_url.startswith(backend)
    assert registry_api.request('GET', '/images', USER).status == 200
    samples = _samples(registry_api.request('GET', '/metrics').body.decode())
    # SQLite: one pooled connection; the servers: a write and a read engine, each
    # with sql_pool_size (5) connections.
    assert samples[('glance_db_pool_size', ())] == (1 if backend == 'sqlite' else 10)
    assert samples[('glance_db_pool_checked_out', ())] == 0

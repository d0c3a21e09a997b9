"""The Prometheus metrics both daemons export, defined once, and their exposition.

Every metric object Glance updates is defined here, so a scrape's series list is this
module (README "Metrics" lists it). Code that measures something imports this module and
updates the object; ``GET /metrics`` (:mod:`glance.middleware.metrics`) renders them.

Two collection modes, chosen by ``prometheus_client`` when it is first imported:

* **multi-process**, when ``PROMETHEUS_MULTIPROC_DIR`` is set (the daemons set it up
  before loading their app, see :mod:`glance.common.metrics_files`): every process,
  each pre-forked worker included, writes its values to its own files in that
  directory, and a scrape of any worker sums them all;
* **single-process** otherwise (tests, a WSGI server run without the variable): the
  values live in this process and a scrape shows this process only.

Label values are kept to small sets (route templates, not paths; store names;
exception class names) so the number of series stays bounded.
"""

import os

import prometheus_client
from prometheus_client import multiprocess

#: The registry the metrics below are registered in (the single-process exposition).
REGISTRY = prometheus_client.CollectorRegistry()
# Read once, as prometheus_client read it when this module imported it.
_MULTIPROCESS_DIR = os.environ.get('PROMETHEUS_MULTIPROC_DIR') or None

_LATENCY_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300)

REQUESTS = prometheus_client.Counter(
    'glance_http_requests', 'HTTP requests answered, by route template, method and '
    'status.', ('route', 'method', 'status'), registry=REGISTRY)
REQUEST_SECONDS = prometheus_client.Histogram(
    'glance_http_request_duration_seconds', 'Seconds from a request to the end of its '
    'response body.', ('route', 'method'), buckets=_LATENCY_BUCKETS, registry=REGISTRY)
BYTES_IN = prometheus_client.Counter(
    'glance_http_request_bytes', 'Request body bytes read (uploads streamed in).',
    ('route', 'method'), registry=REGISTRY)
BYTES_OUT = prometheus_client.Counter(
    'glance_http_response_bytes', 'Response body bytes sent (downloads streamed out).',
    ('route', 'method'), registry=REGISTRY)
INCOMPLETE = prometheus_client.Counter(
    'glance_http_responses_incomplete', 'Responses whose body ended short of its '
    'length (a store or integrity failure, or the client went away).',
    ('route', 'method'), registry=REGISTRY)
IN_FLIGHT = prometheus_client.Gauge(
    'glance_http_requests_in_flight', 'Requests being served now.',
    registry=REGISTRY, multiprocess_mode='livesum')
ZERO_COPY_BYTES = prometheus_client.Counter(
    'glance_zero_copy_bytes', 'Response body bytes sent with sendfile, never read '
    'into the process (file-store downloads and image cache hits); a part of '
    'glance_http_response_bytes.', registry=REGISTRY)
VERIFIED_BY_MEMO = prometheus_client.Counter(
    'glance_downloads_verified_by_memo', 'Zero-copy downloads sent without hashing '
    'because their chunk files were verified earlier and have not changed since '
    '(glance.api.verified_memo).', registry=REGISTRY)
STREAMS = prometheus_client.Gauge(
    'glance_streams_in_flight', 'Image bodies moving now: "in" while a request body '
    'is read, "out" while an application/octet-stream body is sent.', ('direction',),
    registry=REGISTRY, multiprocess_mode='livesum')

STORE_SECONDS = prometheus_client.Histogram(
    'glance_store_request_duration_seconds', 'Seconds a store call took (for get: '
    'until the read was open).', ('store', 'operation'), buckets=_LATENCY_BUCKETS,
    registry=REGISTRY)
STORE_ERRORS = prometheus_client.Counter(
    'glance_store_errors', 'Store calls that failed, by store, operation and error.',
    ('store', 'operation', 'error'), registry=REGISTRY)

CACHE_HITS = prometheus_client.Counter(
    'glance_cache_hits', 'Image reads answered from the local image cache.',
    registry=REGISTRY)
CACHE_MISSES = prometheus_client.Counter(
    'glance_cache_misses', 'Image reads the local image cache could not answer.',
    registry=REGISTRY)
CACHE_EVICTIONS = prometheus_client.Counter(
    'glance_cache_evictions', 'Images removed from the local image cache to make '
    'room.', registry=REGISTRY)

DB_POOL_SIZE = prometheus_client.Gauge(
    'glance_db_pool_size', 'Connections the registry database pools (writes and '
    'reads) keep open (summed over pools and processes).', registry=REGISTRY, multiprocess_mode='livesum')
DB_POOL_CHECKED_OUT = prometheus_client.Gauge(
    'glance_db_pool_checked_out', 'Registry database connections in use now.',
    registry=REGISTRY, multiprocess_mode='livesum')

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST


def exposition():
    """Render every metric in the Prometheus text format.

    In multi-process mode the values of all live and past processes sharing the
    directory are merged (counters and histograms summed, in-flight gauges summed over
    live processes).

    :returns: the exposition as bytes (content type :data:`CONTENT_TYPE`).
    """
    if _MULTIPROCESS_DIR is None:
        return prometheus_client.generate_latest(REGISTRY)
    collected = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(collected, path=_MULTIPROCESS_DIR)
    return prometheus_client.generate_latest(collected)

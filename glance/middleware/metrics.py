"""Request metrics in the Prometheus text format, served at ``GET /metrics``.

Counts live in the daemon process (one eventlet process per daemon), so a scrape of one
daemon shows that daemon's traffic. Bodies are counted as they are sent, so a download
cut short counts only the bytes that left.

======= ========= ==================================
option  default   meaning
======= ========= ==================================
path    /metrics  the path answered
======= ========= ==================================

Series: ``glance_requests_total{method,status}``, ``glance_response_bytes_total``,
``glance_request_seconds_sum``, ``glance_requests_in_flight``,
``glance_responses_incomplete_total``.
"""

import collections
import time

import webob

from glance.common import config, wsgi

_METHODS = frozenset(('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'))


class Metrics:
    """The counters of one daemon process."""

    def __init__(self):
        self.requests = collections.Counter()
        self.bytes_sent = 0
        self.seconds = 0.0
        self.in_flight = 0
        self.incomplete = 0

    def render(self):
        """Return the counters as Prometheus exposition text."""
        lines = ['# TYPE glance_requests_total counter']
        for (method, status), count in sorted(self.requests.items()):
            lines.append('glance_requests_total{method="%s",status="%s"} %d'
                         % (method, status, count))
        lines += ['# TYPE glance_response_bytes_total counter',
                  'glance_response_bytes_total %d' % self.bytes_sent,
                  '# TYPE glance_request_seconds_sum counter',
                  'glance_request_seconds_sum %.6f' % self.seconds,
                  '# TYPE glance_requests_in_flight gauge',
                  'glance_requests_in_flight %d' % self.in_flight,
                  '# TYPE glance_responses_incomplete_total counter',
                  'glance_responses_incomplete_total %d' % self.incomplete]
        return '\n'.join(lines) + '\n'


class MetricsFilter:
    """Count every request and answer the metrics path."""

    def __init__(self, app, conf):
        self.app = app
        self.path = config.Options(conf, 'filter:metrics').get_str('path', '/metrics')
        self.metrics = Metrics()

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO') == self.path and environ.get('REQUEST_METHOD') == 'GET':
            response = webob.Response(body=self.metrics.render().encode('ascii'),
                                      content_type='text/plain', charset='utf-8')
            return response(environ, start_response)
        method = environ.get('REQUEST_METHOD', 'OTHER')
        method = method if method in _METHODS else 'OTHER'
        started = time.monotonic()
        status = ['-']
        self.metrics.in_flight += 1

        def remember_status(status_line, headers, exc_info=None):
            status[0] = status_line.split(' ', 1)[0]
            return start_response(status_line, headers, exc_info)

        def finish(body):
            metrics = self.metrics
            metrics.in_flight -= 1
            metrics.requests[(method, status[0])] += 1
            metrics.bytes_sent += body.sent
            metrics.seconds += time.monotonic() - started
            if not body.complete and method != 'HEAD':
                metrics.incomplete += 1

        try:
            body = self.app(environ, remember_status)
        except BaseException:
            self.metrics.in_flight -= 1
            raise
        return wsgi.CountingBody(body, finish)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`MetricsFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: MetricsFilter(app, conf)

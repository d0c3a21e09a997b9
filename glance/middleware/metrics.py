"""Request metrics for Prometheus, and ``GET /metrics`` that serves every Glance metric.

For each request it counts the answer by route template, method and status, times it
to the end of its body, counts the body bytes read and sent (as they move, so a
download cut short counts only the bytes that left), and keeps the in-flight gauges.
The metric objects live in :mod:`glance.common.metrics`; with several workers the
scrape of any worker sums every worker (see that module).

The route label is the router's template (``/images/{id}``), set in
``environ['glance.route']``; a request that no route matched is ``unmatched``.

======= ========= ==================================
option  default   meaning
======= ========= ==================================
path    /metrics  the path answered
======= ========= ==================================
"""

import time

import webob

from glance.common import config, metrics, wsgi

_METHODS = frozenset(('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'))


class CountingInput:
    """Wraps ``wsgi.input`` to count the request body bytes the app reads.

    :param stream: the server's input stream.
    """

    def __init__(self, stream):
        self._stream = stream
        self.received = 0

    def _count(self, data):
        self.received += len(data)
        return data

    def read(self, *args):
        """Read like the wrapped stream, counting."""
        return self._count(self._stream.read(*args))

    def readline(self, *args):
        """Read a line like the wrapped stream, counting."""
        return self._count(self._stream.readline(*args))

    def readlines(self, *args):
        """Read lines like the wrapped stream, counting."""
        return [self._count(line) for line in self._stream.readlines(*args)]

    def __iter__(self):
        return (self._count(line) for line in self._stream)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class RouteSeries:
    """The series of one (route, method), looked up once: ``labels()`` costs, and
    keeping the children halves the filter's single-process cost
    (bench/metrics_bench.py).

    :param route: the route template (or ``unmatched``).
    :param method: the request method.
    """

    def __init__(self, route, method):
        self._labels = (route, method)
        self.seconds = metrics.REQUEST_SECONDS.labels(route, method)
        self.bytes_in = metrics.BYTES_IN.labels(route, method)
        self.bytes_out = metrics.BYTES_OUT.labels(route, method)
        self.incomplete = metrics.INCOMPLETE.labels(route, method)
        self._requests = {}

    def record(self, status, seconds, received, sent, complete):
        """Count one finished request."""
        requests = self._requests.get(status)
        if requests is None:
            requests = self._requests[status] = metrics.REQUESTS.labels(*self._labels,
                                                                        status)
        requests.inc()
        self.seconds.observe(seconds)
        if received:
            self.bytes_in.inc(received)
        if sent:
            self.bytes_out.inc(sent)
        if not complete:
            self.incomplete.inc()


class MetricsFilter:
    """Measure every request and answer the metrics path."""

    def __init__(self, app, conf):
        self.app = app
        self.path = config.Options(conf, 'filter:metrics').get_str('path', '/metrics')
        self._series = {}
        self._streams_in = metrics.STREAMS.labels('in')
        self._streams_out = metrics.STREAMS.labels('out')

    def _series_of(self, route, method):
        series = self._series.get((route, method))
        if series is None:
            series = self._series[route, method] = RouteSeries(route, method)
        return series

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO') == self.path and environ.get('REQUEST_METHOD') == 'GET':
            response = webob.Response(body=metrics.exposition())
            response.headers['Content-Type'] = metrics.CONTENT_TYPE
            return response(environ, start_response)
        method = environ.get('REQUEST_METHOD', 'OTHER')
        method = method if method in _METHODS else 'OTHER'
        started = time.monotonic()
        state = {'status': '-', 'out': False}
        upload = wsgi.declares_body(environ)
        body_in = environ['wsgi.input'] = CountingInput(environ['wsgi.input'])

        def remember_status(status_line, headers, exc_info=None):
            state['status'] = status_line.split(' ', 1)[0]
            content_type = [v for k, v in headers if k.lower() == 'content-type']
            if content_type and content_type[0].startswith('application/octet-stream') \
                    and method == 'GET' and not state['out']:
                state['out'] = True
                self._streams_out.inc()
            return start_response(status_line, headers, exc_info)

        def finish(sent, complete):
            metrics.IN_FLIGHT.dec()
            if state['out']:
                self._streams_out.dec()
            self._series_of(environ.get(wsgi.ROUTE_KEY, 'unmatched'), method).record(
                state['status'], time.monotonic() - started, body_in.received, sent,
                complete or method == 'HEAD')

        metrics.IN_FLIGHT.inc()
        if upload:
            self._streams_in.inc()
        try:
            body = self.app(environ, remember_status)
        except BaseException:
            # catch_errors, outside this filter, answers it with a 500.
            state['status'] = '500'
            finish(0, False)
            raise
        finally:
            if upload:
                self._streams_in.dec()
        return wsgi.CountingBody(body, lambda counted: finish(counted.sent,
                                                              counted.complete))


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`MetricsFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: MetricsFilter(app, conf)

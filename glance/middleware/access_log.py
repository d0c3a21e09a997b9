"""One access-log line per request, written when the body is done.

The line holds client address, method, path and query, status, bytes actually sent,
duration, request id and user agent. Headers are not logged, so tokens never are.

========== ============= =====================================================
option     default       meaning
========== ============= =====================================================
log_name   glance.access logger name the lines go to
========== ============= =====================================================
"""

import logging
import time

from glance.common import config


class _CountingBody:
    """Wraps an app_iter to count bytes and log once it is closed."""

    def __init__(self, body, on_close):
        self._body = body
        self._on_close = on_close
        self.sent = 0
        self.complete = False

    def __iter__(self):
        for block in self._body:
            self.sent += len(block)
            yield block
        self.complete = True

    def close(self):
        try:
            close = getattr(self._body, 'close', None)
            if close is not None:
                close()
        finally:
            self._on_close(self)


class AccessLogFilter:
    """Log one line per request after its body has been sent (or abandoned)."""

    def __init__(self, app, conf):
        self.app = app
        self.logger = logging.getLogger(config.Options(conf).get_str('log_name',
                                                                     'glance.access'))

    def __call__(self, environ, start_response):
        started = time.monotonic()
        status_holder = ['-']

        def remember_status(status, headers, exc_info=None):
            status_holder[0] = status.split(' ', 1)[0]
            return start_response(status, headers, exc_info)

        def log_line(body):
            path = environ.get('PATH_INFO', '')
            if environ.get('QUERY_STRING'):
                path += '?' + environ['QUERY_STRING']
            self.logger.info(
                '%s "%s %s" %s %d %.4fs %s "%s"%s',
                environ.get('REMOTE_ADDR', '-'), environ.get('REQUEST_METHOD'),
                path, status_holder[0], body.sent, time.monotonic() - started,
                environ.get('glance.request_id', '-'),
                environ.get('HTTP_USER_AGENT', '-'),
                '' if body.complete or environ.get('REQUEST_METHOD') == 'HEAD'
                else ' incomplete')

        return _CountingBody(self.app(environ, remember_status), log_line)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`AccessLogFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: AccessLogFilter(app, conf)

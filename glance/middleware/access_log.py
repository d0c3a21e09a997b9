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

from glance.common import config, wsgi


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

        return wsgi.CountingBody(self.app(environ, remember_status), log_line)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`AccessLogFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: AccessLogFilter(app, conf)

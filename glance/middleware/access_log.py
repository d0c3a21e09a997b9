"""One access-log line per request, written when the body is done.

The line holds client address, method, path and query, status, bytes actually sent,
duration, request id, identity (``tenant/user`` from the request context, ``-`` when
anonymous) and user agent. Headers are not logged, so tokens never are. With
``log_json = true`` the same values are also fields of the JSON line.

========== ============= =====================================================
option     default       meaning
========== ============= =====================================================
log_name   glance.access logger name the lines go to
========== ============= =====================================================
"""

import logging
import time

from glance.common import config, context, wsgi


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
            fields = {'client': environ.get('REMOTE_ADDR', '-'),
                      'method': environ.get('REQUEST_METHOD'), 'path': path,
                      'status': status_holder[0], 'bytes': body.sent,
                      'duration': round(time.monotonic() - started, 4),
                      'identity': _identity(environ),
                      'user_agent': environ.get('HTTP_USER_AGENT', '-'),
                      'complete': body.complete or _is_head(environ)}
            self.logger.info(
                '%s "%s %s" %s %d %.4fs %s %s "%s"%s', fields['client'],
                fields['method'], path, fields['status'], fields['bytes'],
                fields['duration'], environ.get('glance.request_id', '-'),
                fields['identity'], fields['user_agent'],
                '' if fields['complete'] else ' incomplete', extra={'fields': fields})

        return wsgi.CountingBody(self.app(environ, remember_status), log_line)


def _is_head(environ):
    """A HEAD answer has no body to be short of."""
    return environ.get('REQUEST_METHOD') == 'HEAD'


def _identity(environ):
    """``tenant/user`` of the request context (never its token), or ``-``."""
    ctx = environ.get(context.WSGI_KEY)
    if ctx is None or not (ctx.tenant or ctx.user):
        return '-'
    return '%s/%s' % (ctx.tenant or '-', ctx.user or '-')


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`AccessLogFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: AccessLogFilter(app, conf)

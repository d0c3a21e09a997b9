"""Answers ``GET /healthcheck`` for load balancers, before any auth or database work.

``GET /healthcheck?detail`` is not answered here: it goes on down the pipeline to the
app, which checks what the daemon depends on for an administrator
(:mod:`glance.common.health`).

============= ============== ==============================================
option        default        meaning
============= ============== ==============================================
path          /healthcheck   the path answered
disable_path  (unset)        if this file exists, answer 503 (drain a node)
============= ============== ==============================================
"""

import os
import urllib.parse

import webob

from glance.common import config, wsgi


class HealthcheckFilter:
    """Answer the health-check path; pass everything else on."""

    def __init__(self, app, conf):
        self.app = app
        opts = config.Options(conf, 'filter:healthcheck')
        self.path = opts.get_str('path', '/healthcheck')
        self.disable_path = opts.get_str('disable_path', None)

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO') != self.path or 'detail' in urllib.parse.parse_qs(
                environ.get('QUERY_STRING', ''), keep_blank_values=True):
            return self.app(environ, start_response)
        if environ.get('REQUEST_METHOD') not in ('GET', 'HEAD'):
            response = wsgi.json_error(405, 'Method %s not allowed on %s; allowed: GET, '
                                       'HEAD' % (environ.get('REQUEST_METHOD'), self.path),
                                       {'Allow': 'GET, HEAD'})
        elif self.disable_path and os.path.exists(self.disable_path):
            response = webob.Response(status=503, body=b'DISABLED BY FILE\n',
                                      content_type='text/plain')
        else:
            response = webob.Response(status=200, body=b'OK\n',
                                      content_type='text/plain')
        return response(environ, start_response)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`HealthcheckFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: HealthcheckFilter(app, conf)

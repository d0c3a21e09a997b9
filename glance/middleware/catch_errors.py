"""Outermost filter: no request ever ends in a traceback or an HTML error page.

An exception raised by the app before it starts its response becomes a JSON 500 with a
generic message (the exception is logged, never shown). An exception raised while the
body is streaming cannot change the status any more: the iterator re-raises so that the
server drops the connection short of ``Content-Length``, and the client sees a short
read instead of a complete-looking body.

Every 503 leaving the pipeline carries ``Retry-After``, including those a filter
further in answers by itself (keystonemiddleware's ``auth_token`` when Keystone is
down): a 503 says a backing service failed, and load balancers and clients wait
that long before retrying.

No options.
"""

import logging

from glance.common import wsgi

LOG = logging.getLogger(__name__)


class CatchErrorsFilter:
    """Turn unexpected exceptions into JSON 500 responses or dropped connections."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = []

        def tracking_start_response(status, headers, exc_info=None):
            started.append(status)
            if status.startswith('503') and not any(
                    name.lower() == 'retry-after' for name, _ in headers):
                headers = list(headers) + [('Retry-After', wsgi.RETRY_AFTER)]
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, tracking_start_response)
        except Exception:  # the one place that catches everything
            LOG.exception('Unhandled error in %s %s', environ.get('REQUEST_METHOD'),
                          environ.get('PATH_INFO'))
            if started:
                raise
            return wsgi.json_error(
                500, 'The server failed to complete the request; see its log '
                'for request %s' % environ.get('glance.request_id', '-')
            )(environ, start_response)
        return body


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`CatchErrorsFilter`."""
    return CatchErrorsFilter

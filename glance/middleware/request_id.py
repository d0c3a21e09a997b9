"""Give every request an id: kept from a sane ``X-Request-Id`` or made anew.

The id is stored in ``environ['glance.request_id']`` and in the logging context
(:func:`glance.common.log.set_request_id`), so every log line written while serving the
request carries it and the registry client forwards it to glance-registry; it is
echoed in the ``X-Request-Id`` response header. An incoming id is kept only if it is short and made of
letters, digits, ``-`` and ``_`` (it ends up in logs).

No options.
"""

import re
import uuid

from glance.common import log

_SAFE_ID = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
ENVIRON_KEY = 'glance.request_id'


class RequestIdFilter:
    """Attach a request id to the environ and to the response headers."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        incoming = environ.get('HTTP_X_REQUEST_ID', '')
        request_id = incoming if _SAFE_ID.match(incoming) else 'req-' + uuid.uuid4().hex
        environ[ENVIRON_KEY] = request_id
        log.set_request_id(request_id)

        def add_header(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != 'x-request-id']
            headers.append(('X-Request-Id', request_id))
            return start_response(status, headers, exc_info)

        return self.app(environ, add_header)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`RequestIdFilter`."""
    return RequestIdFilter

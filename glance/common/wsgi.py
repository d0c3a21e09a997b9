"""WSGI plumbing shared by both daemons.

* :func:`json_error` builds every error response (JSON body, never HTML).
* :data:`EXCEPTION_STATUS` is the one table that maps domain exceptions to HTTP statuses
  (store exceptions included).
* :class:`Router` dispatches through a :class:`routes.Mapper` and answers unknown paths
  with 404 and known paths with a wrong method with 405 plus ``Allow``.
* :func:`load_paste_app` builds an app or pipeline from a paste.deploy ini.

The eventlet server lives in :mod:`glance.common.server`; nothing here depends on it,
so the apps run under any WSGI server.
"""

import json
import logging
import re
import urllib.parse

import webob
import webob.dec
import webob.exc

from glance.common import exception
from glance.store import base as store_base

LOG = logging.getLogger(__name__)
#: environ key where :class:`Router` puts the matched route's template (for metrics).
ROUTE_KEY = 'glance.route'

#: WSGI environ key of a callable ``peek(n)`` that our server (glance.common.server)
#: sets: up to ``n`` bytes the client already sent after the current request body,
#: not consumed. Other servers leave it out.
PEEK_KEY = 'glance.peek_unread'

# What a pipelined next request starts with; anything else right after the declared
# body is more body.
_REQUEST_LINE = re.compile(rb'[A-Z]{3,10} [^ ]')


def check_body_end(req):
    """Refuse a body longer than its ``Content-Length``.

    The server reads exactly ``Content-Length`` bytes; bytes the client sent beyond
    them, unless they start another request, mean the declared length was a lie.

    :raises Invalid: (with ``Connection: close``) for such a body.
    """
    peek = req.environ.get(PEEK_KEY)
    if peek is None or req.content_length is None:
        return
    trailing = peek(16)
    if trailing and not _REQUEST_LINE.match(trailing):
        error = exception.Invalid(reason='the body is longer than its Content-Length '
                                         '(%d bytes)' % req.content_length)
        error.headers = {'Connection': 'close'}
        raise error


def _chunked(environ):
    return environ.get('HTTP_TRANSFER_ENCODING', '').lower() == 'chunked'


def declares_body(environ):
    """True when a request's headers announce data (a Content-Length other than 0,
    or chunked); reads the environ only, so filters can ask it of every request.

    :param environ: the WSGI environ.
    """
    return _chunked(environ) or environ.get('CONTENT_LENGTH', '') not in ('', '0')


def has_body(req):
    """True when the request carries data (a Content-Length above 0, or chunked).

    eventlet de-chunks a chunked body and ends it at the last chunk but does not set
    ``wsgi.input_terminated``; setting it lets ``req.body_file`` read such a body.
    """
    if req.content_length is None and _chunked(req.environ):
        req.is_body_readable = True
    return req.is_body_readable


#: The one exception -> HTTP status table of both daemons. The most specific class
#: of an exception that is listed decides (its method resolution order is walked), so
#: the order of the rows does not matter. Domain exceptions know nothing of HTTP.
EXCEPTION_STATUS = {
    exception.Invalid: 400,
    exception.Unauthorized: 401,
    exception.Forbidden: 403,
    exception.NotFound: 404,
    exception.Conflict: 409,
    exception.RequestTooLarge: 413,
    exception.UnsupportedMediaType: 415,
    exception.RangeNotSatisfiable: 416,
    exception.UpstreamError: 502,
    exception.ServiceUnavailable: 503,
    store_base.BadLocation: 400,
    store_base.StoreReadOnly: 403,
    store_base.StoreError: 502,
    store_base.StoreUnavailable: 503,
}


def status_for(exc):
    """Return the HTTP status for a domain exception (500 for unknown ones)."""
    for cls in type(exc).__mro__:
        if cls in EXCEPTION_STATUS:
            return EXCEPTION_STATUS[cls]
    return 500


def json_error(status, message, headers=None):
    """Build a JSON error response.

    :param status: HTTP status code.
    :param message: the human-readable reason; must not contain secrets.
    :param headers: extra headers (e.g. ``Allow``).
    :returns: a :class:`webob.Response` with body
        ``{"error": {"code": ..., "title": ..., "message": ...}}``.
    """
    cls = webob.exc.status_map.get(status, webob.exc.HTTPInternalServerError)
    body = {'error': {'code': status, 'title': cls.title, 'message': message}}
    response = webob.Response(status=status, charset='UTF-8',
                              content_type='application/json')
    response.body = json.dumps(body).encode('utf-8')
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


#: Seconds a client is told to wait before retrying after a 503 (a backing service
#: such as the registry or Keystone is down); load balancers and clients honour it.
RETRY_AFTER = '5'


def error_response(exc):
    """Translate a domain exception into its JSON error response.

    A 503 carries ``Retry-After``: the failure is somebody else's and may pass.
    """
    status = status_for(exc)
    headers = dict(getattr(exc, 'headers', None) or {})
    if status == 503:
        headers.setdefault('Retry-After', RETRY_AFTER)
    return json_error(status, exc.message, headers)


def json_response(data, status=200, headers=None):
    """Build a JSON response from a Python object."""
    response = webob.Response(status=status, charset='UTF-8',
                              content_type='application/json')
    response.body = json.dumps(data, default=str).encode('utf-8')
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _json_depth(data):
    """Nesting depth of a decoded JSON value (a scalar is 0), without recursion."""
    deepest, pending = 0, [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, depth + 1)
            pending.extend((item, depth + 1) for item in value)
    return deepest


def parse_json_body(req, max_bytes=1024 * 1024, max_depth=32, top_level=dict):
    """Decode a small JSON request body into a dict (or a list).

    :param max_bytes: largest body accepted.
    :param max_depth: deepest nesting of objects and arrays accepted.
    :param top_level: ``dict`` (a JSON object) or ``list`` (an array, e.g. a JSON
        patch): what the body must be.
    :raises Invalid: on a missing, non-UTF-8 or malformed body, a body nested deeper
        than ``max_depth``, or a body whose top level is not ``top_level``.
    :raises RequestTooLarge: when the body exceeds ``max_bytes``.
    """
    if req.content_length is not None and req.content_length > max_bytes:
        raise exception.RequestTooLarge(reason='JSON body over %d bytes' % max_bytes)
    raw = req.body_file.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise exception.RequestTooLarge(reason='JSON body over %d bytes' % max_bytes)
    if not raw:
        raise exception.Invalid(reason='request body is empty; expected a JSON object')
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        raise exception.Invalid(reason='request body is not valid UTF-8')
    try:
        data = json.loads(text)
    except ValueError as err:
        raise exception.Invalid(reason='malformed JSON: %s' % err.msg)
    except RecursionError:
        raise exception.Invalid(reason='malformed JSON: nested too deeply')
    if not isinstance(data, top_level):
        raise exception.Invalid(reason='request body must be a JSON %s'
                                % ('array' if top_level is list else 'object'))
    if _json_depth(data) > max_depth:
        raise exception.Invalid(reason='JSON body nested deeper than %d levels'
                                % max_depth)
    return data


_BAD_PERCENT = re.compile('%(?![0-9A-Fa-f]{2})')
_PATH_CONTROL = re.compile('[\x00-\x1f\x7f]')


def check_request_target(environ):
    """Refuse a request path or query string that cannot be decoded.

    Both daemons call this (through :class:`Router`) before any route or parameter
    is read, so every route answers a malformed target the same way.

    :raises Invalid: for a path that is not UTF-8 or holds control characters, or a
        query string with a ``%`` not followed by two hex digits or that is not UTF-8
        once decoded.
    """
    path = environ.get('PATH_INFO', '')
    try:
        path = path.encode('latin-1').decode('utf-8')
    except UnicodeError:
        raise exception.Invalid(reason='the request path is not valid UTF-8') from None
    if _PATH_CONTROL.search(path):
        raise exception.Invalid(reason='the request path holds control characters')
    query = environ.get('QUERY_STRING', '')
    if _BAD_PERCENT.search(query):
        raise exception.Invalid(reason='the query string has a malformed '
                                       'percent-encoding (%% must start %%XX)')
    try:
        urllib.parse.unquote_to_bytes(query.replace('+', ' ')).decode('utf-8')
    except UnicodeError:
        raise exception.Invalid(reason='the query string is not percent-encoded UTF-8') from None


class Controller:
    """Base class of controllers: calling one runs the named action method.

    Routes keeps callables as they are but turns other route defaults into strings,
    so controllers are callable.
    """

    def __call__(self, req, action, **url_args):
        return getattr(self, action)(req, **url_args)


class Router:
    """Dispatch requests to controller actions through a routes mapper.

    Each route carries ``controller`` (a :class:`Controller`) and ``action`` (a method
    name). The action is called as ``action(req, **url_args)`` and returns a :class:`webob.Response`
    or a JSON-serialisable object (sent as a 200 JSON body). Domain exceptions become
    JSON errors through :data:`EXCEPTION_STATUS`.

    :param mapper: a :class:`routes.Mapper` whose routes declare their methods in
        ``conditions``.
    """

    def __init__(self, mapper):
        self.mapper = mapper

    def _not_routed(self, req):
        path = req.environ.get('PATH_INFO', '').encode('latin-1').decode(
            'utf-8', 'replace')
        # Matching without an environ skips method conditions (routes' routematch),
        # which tells a wrong method (405) apart from an unknown path (404).
        if self.mapper.routematch(path) is None:
            return json_error(404, 'No resource at %s' % path)
        allowed = set()
        for route in self.mapper.matchlist:
            if route.match(path) is not False:
                methods = (route.conditions or {}).get('method') or []
                allowed.update(methods)
        allow = ', '.join(sorted(allowed))
        return json_error(405, 'Method %s not allowed on %s; allowed: %s'
                          % (req.method, path, allow), {'Allow': allow})

    @webob.dec.wsgify
    def __call__(self, req):
        try:
            check_request_target(req.environ)
        except exception.Invalid as exc:
            return error_response(exc)
        found = self.mapper.routematch(environ=req.environ)
        if not found:
            return self._not_routed(req)
        req.environ[ROUTE_KEY] = found[1].routepath
        args = dict(found[0])
        controller = args.pop('controller')
        try:
            result = controller(req, args.pop('action'), **args)
        except exception.GlanceException as exc:
            if status_for(exc) >= 500:
                LOG.warning('%s %s failed: %s', req.method, req.path, exc)
            return error_response(exc)
        if isinstance(result, webob.Response):
            return result
        return json_response(result)


class CountingBody:
    """Wraps a response body to count the bytes sent and call back once it is closed.

    Filters that report on a request after its body is done (access log, metrics) wrap
    the app's iterable in this; ``complete`` tells a full body from one cut short.

    :param body: the app's response iterable.
    :param on_close: called with this object when the server closes the body.
    """

    def __init__(self, body, on_close):
        self._body = body
        self._on_close = on_close
        self.sent = 0
        self.complete = False

    def __iter__(self):
        for block in self._body:
            # An empty marker block counts the bytes sendfile() sent past the server
            # (glance.common.sendfile.SentOutOfBand).
            self.sent += len(block) or getattr(block, 'length', 0)
            yield block
        self.complete = True

    def close(self):
        """Close the wrapped body, then report."""
        try:
            close = getattr(self._body, 'close', None)
            if close is not None:
                close()
        finally:
            self._on_close(self)


# Option names paste.deploy reads from the ini sections themselves. A conf-file option
# of the same name (the daemon's `pipeline` option) would reach paste as a default
# that every section inherits, and paste then ignores the sections' own values.
_PASTE_SECTION_KEYS = ('pipeline', 'use', 'next', 'filter-with')


def load_paste_app(ini_path, name, global_conf=None):
    """Load an app or pipeline from a paste.deploy ini file.

    Options that paste reads from the ini sections (``pipeline``, ``use``...) are not
    handed down as defaults: the daemon has used them already to find ``name``.

    :param ini_path: path of the ``*-paste.ini`` file.
    :param name: the app or pipeline name in that file.
    :param global_conf: defaults handed to every factory (the daemon's ``.conf``).
    :raises ConfigError: when the file or name cannot be loaded.
    """
    from paste import deploy
    import os
    try:
        defaults = {key: value for key, value in (global_conf or {}).items()
                    if key not in _PASTE_SECTION_KEYS}
        return deploy.loadapp('config:%s' % os.path.abspath(ini_path), name=name,
                              global_conf=defaults)
    except LookupError as err:
        raise exception.ConfigError('pipeline', name, 'cannot load from %s: %s'
                                    % (ini_path, err))

"""The one status → exception table of Glance's HTTP clients, and their failure lines.

Every client (the streaming :mod:`glance.client.transport` for image data and the
httplib2 :class:`~glance.common.client.BaseJSONClient` of the registry) raises the
same :mod:`glance.common.exception` class for the same answer:

=============================== =====================================================
exception                       raised for
=============================== =====================================================
``Invalid``                     400, and any other 4xx not listed here
``Unauthorized``                401
``Forbidden``                   403
``NotFound``                    404 (or the caller's ``not_found`` class, such as
                                ``ImageNotFound``)
``Conflict``                    409
``RequestTooLarge``             413
``RangeNotSatisfiable``         416 (when the caller does not accept it as an answer)
``unavailable``                 5xx or 3xx answers, a refused or reset connection, a
                                timeout, a TLS failure (``ServiceUnavailable`` unless
                                the client names a subclass)
=============================== =====================================================

The message of a 4xx exception is the server's own JSON error message
(``{"error": {"message": ...}}``); messages built here name the server by its URL
only, never a header or a token.
"""

import http.client
import json
import ssl

from glance.common import exception

#: Most bytes of an error (or small JSON) body read.
MAX_JSON_BODY = 1024 * 1024
_MAX_MESSAGE = 1000

STATUS_EXCEPTIONS = {
    400: exception.Invalid,
    401: exception.Unauthorized,
    403: exception.Forbidden,
    404: exception.NotFound,
    409: exception.Conflict,
    413: exception.RequestTooLarge,
    416: exception.RangeNotSatisfiable,
}


def server_message(content):
    """Return the message of a JSON error body, or None.

    Only ``{"error": {"message": "..."}}`` is trusted: any other body (an HTML page
    from a proxy, say) is not repeated, as nothing says what it contains.

    :param content: the raw response body (bytes).
    """
    try:
        message = json.loads(content.decode('utf-8'))['error']['message']
    except (AttributeError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(message, str) or not message.strip():
        return None
    return message.strip()[:_MAX_MESSAGE]


def for_status(status, content, where, not_found=None,
               unavailable=exception.ServiceUnavailable):
    """Build the exception for a non-2xx answer.

    :param status: the HTTP status.
    :param content: the response body (bytes), for the server's message.
    :param where: the server, as it appears in messages (``glance-api at <url>``).
    :param not_found: the class (or callable taking the message) for a 404.
    :param unavailable: the class for 5xx and 3xx answers.
    :returns: the exception (the caller raises it).
    """
    message = server_message(content)
    if status >= 500 or status < 400:
        return unavailable(reason='%s answered %d%s'
                           % (where, status, ': ' + message if message else ''))
    message = message or 'HTTP %d from %s' % (status, where)
    if status == 404 and not_found is not None:
        return not_found(message)
    return STATUS_EXCEPTIONS.get(status, exception.Invalid)(message)


def describe_failure(err, timeout):
    """Say in a few words why a request failed at the transport level.

    :param err: the OSError or :class:`http.client.HTTPException` raised.
    :param timeout: the client's timeout, named when it ran out.
    :returns: a phrase to follow the server's name, e.g. ``refused the connection``.
    """
    if isinstance(err, TimeoutError):
        return 'did not answer within %s s' % timeout
    if isinstance(err, ssl.SSLCertVerificationError):
        return ('presented a TLS certificate that could not be verified (%s); trust '
                'its CA with the ca_file option (--ca-file)'
                % (err.verify_message or 'verification failed'))
    if isinstance(err, ssl.SSLError):
        return 'failed the TLS handshake (%s)' % (err.reason or type(err).__name__)
    if isinstance(err, ConnectionRefusedError):
        return 'refused the connection'
    if isinstance(err, (ConnectionResetError, BrokenPipeError)):
        return 'closed the connection without answering (%s)' % type(err).__name__
    if isinstance(err, http.client.HTTPException):
        return 'sent a malformed HTTP response (%s)' % type(err).__name__
    return 'cannot be reached (%s)' % (getattr(err, 'strerror', None)
                                       or type(err).__name__)

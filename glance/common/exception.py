"""Domain exceptions shared by the registry and the proxy.

They carry a human-readable message and no HTTP knowledge: the one mapping from
exception class to HTTP status lives in :mod:`glance.common.wsgi`.
"""


class GlanceException(Exception):
    """Base class: a message template formatted with keyword arguments.

    :param message: overrides the class template when given.
    """

    template = 'An unknown error occurred'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.template % kwargs
            except (KeyError, TypeError, ValueError):
                message = self.template
        self.message = message
        super().__init__(message)

    def __str__(self):
        return self.message


class Invalid(GlanceException):
    """The request is malformed or a value is not acceptable (400)."""

    template = 'Invalid input: %(reason)s'


class NotFound(GlanceException):
    """The thing asked for does not exist or is not visible to the caller (404)."""

    template = 'Not found'


class ImageNotFound(NotFound):
    """No image with that id is visible to the caller."""

    template = 'No image found with id %(image_id)s'


class Conflict(GlanceException):
    """The request conflicts with the current state, e.g. a bad status transition (409)."""

    template = 'Conflict: %(reason)s'


class Duplicate(Conflict):
    """An object with that identity already exists (409)."""

    template = 'Already exists: %(reason)s'


class Forbidden(GlanceException):
    """The caller is known but not allowed to do this (403)."""

    template = 'You are not authorized to complete this action'


class Unauthorized(GlanceException):
    """The caller must authenticate (401)."""

    template = 'Authentication required'


class RequestTooLarge(GlanceException):
    """The request body exceeds a configured cap (413)."""

    template = 'Request entity too large: %(reason)s'


class UnsupportedMediaType(GlanceException):
    """The request body's Content-Type is not one the resource accepts (415)."""

    template = 'Unsupported media type'


class RangeNotSatisfiable(GlanceException):
    """A Range header that cannot be served (416)."""

    template = 'Requested range not satisfiable'


class ServiceUnavailable(GlanceException):
    """A backing service (registry, store, database) cannot be reached (503)."""

    template = 'Service unavailable: %(reason)s'


class RegistryUnavailable(ServiceUnavailable):
    """The registry cannot be reached or answered with a server error (503)."""

    template = 'Registry unavailable: %(reason)s'


class UpstreamError(GlanceException):
    """A backing service answered wrongly, e.g. a changed or missing chunk (502)."""

    template = 'Upstream error: %(reason)s'


class ChecksumMismatch(UpstreamError):
    """Data read from a store does not match the checksum recorded in the registry."""

    template = 'Checksum mismatch for image %(image_id)s: %(reason)s'


class ConfigError(GlanceException):
    """A configuration option is missing or invalid; stops startup with a readable line."""

    def __init__(self, option, section, why):
        self.option = option
        self.section = section
        self.why = why
        super().__init__('Invalid configuration: option %r in [%s]: %s'
                         % (option, section, why))

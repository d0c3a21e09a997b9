"""Logging setup from a daemon's conf: secret masking, request ids, text or JSON lines.

The request being served is remembered in a context variable (:func:`set_request_id`,
set by the ``request_id`` filter), which is per green thread under eventlet and per
thread under a threaded WSGI server. :class:`RequestIdFilter` copies it onto every log
record, so a store's or the registry client's log lines carry the id of the request
that caused them, and :class:`glance.common.client.BaseJSONClient` forwards it to the
registry.

Options (``[DEFAULT]``): ``log_file``, ``log_level``, ``debug``, ``use_syslog``,
``log_format`` (text lines) and ``log_json`` (one JSON object per line instead).
"""

import contextvars
import json
import logging
import logging.handlers
import re
import sys

from glance.common.config import Options

# Names whose values are secrets; \b keeps look-alikes such as sort_key unmasked.
_SECRET_PATTERN = re.compile(
    r'(?i)(\b(?:x-auth-token|x-storage-token|x-amz-security-token|authorization|key|'
    r'secret|[a-z_]*password|[a-z_]*passwd|[a-z_]*secret_key|access_key|api_key|auth_key|'
    r'private_key|[a-z_]*token)\b["\']?\s*[:=]\s*["\']?)([^\s"\',&;]+)')
LOG_FORMAT = '%(asctime)s %(process)d %(levelname)s %(name)s [%(request_id)s] %(message)s'
_REQUEST_ID = contextvars.ContextVar('glance_request_id', default=None)


def set_request_id(request_id):
    """Remember the id of the request this thread serves now (None: no request)."""
    _REQUEST_ID.set(request_id)


def current_request_id():
    """The id of the request this thread serves, or None outside a request."""
    return _REQUEST_ID.get()


def redact(text):
    """Mask values that follow secret-looking names (``secret_key=...``, tokens)."""
    return _SECRET_PATTERN.sub(lambda match: match.group(1) + '***', text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message."""

    def filter(self, record):
        """Mask the record's message in place; always keeps the record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RequestIdFilter(logging.Filter):
    """Put the current request id on every record as ``request_id`` (``-`` if none)."""

    def filter(self, record):
        """Set ``record.request_id``; always keeps the record."""
        record.request_id = current_request_id() or '-'
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, request id, message.

    Fields passed as ``extra={'fields': {...}}`` (the access log's status, bytes,
    duration, identity...) are merged in. Secrets are masked in the result as in text
    lines.
    """

    def format(self, record):
        """The record as one line of JSON, secrets masked."""
        entry = {'time': self.formatTime(record), 'level': record.levelname,
                 'logger': record.name, 'process': record.process,
                 'request_id': getattr(record, 'request_id', '-'),
                 'message': record.getMessage()}
        entry.update(getattr(record, 'fields', None) or {})
        if record.exc_info:
            entry['exception'] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


def setup_logging(conf, section='DEFAULT'):
    """Configure the root logger from the daemon's logging options (module docstring).

    :param conf: the daemon's ``[DEFAULT]`` options.
    :returns: the configured root logger.
    """
    opts = Options(conf, section)
    level_name = opts.get_str('log_level', 'INFO').upper()
    if opts.get_bool('debug', False):
        level_name = 'DEBUG'
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        from glance.common.exception import ConfigError
        raise ConfigError('log_level', section, 'unknown level %r' % level_name)
    log_file = opts.get_path('log_file', None)
    if log_file:
        handler = logging.handlers.WatchedFileHandler(log_file)
    elif opts.get_bool('use_syslog', False):
        handler = logging.handlers.SysLogHandler(address='/dev/log')
    else:
        handler = logging.StreamHandler(sys.stderr)
    if opts.get_bool('log_json', False):
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(opts.get_str('log_format', LOG_FORMAT)))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return root

"""Logging setup from a daemon's conf, with a filter that masks secrets."""

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
LOG_FORMAT = '%(asctime)s %(process)d %(levelname)s %(name)s %(message)s'


def redact(text):
    """Mask values that follow secret-looking names (``secret_key=...``, tokens)."""
    return _SECRET_PATTERN.sub(lambda match: match.group(1) + '***', text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message."""

    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(conf, section='DEFAULT'):
    """Configure the root logger from ``log_file``, ``log_level`` and ``use_syslog``.

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
    handler.setFormatter(logging.Formatter(opts.get_str('log_format', LOG_FORMAT)))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return root

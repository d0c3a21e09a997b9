"""Token authentication from a static tokens file, for small deployments.

Plays the part keystonemiddleware's ``auth_token`` plays in a Keystone deployment
and sets the same headers, so the ``context`` filter behind it reads either alike:

* every identity header the client sent (``X-Identity-Status``, ``X-Project-Id``,
  ``X-Tenant-Id``, ``X-User-Id``, ``X-Roles`` and their ``X-Service-*`` twins) is
  removed;
* a known ``X-Auth-Token`` sets ``X-Identity-Status: Confirmed``, ``X-Project-Id``,
  ``X-User-Id`` and ``X-Roles``; a known ``X-Service-Token`` sets
  ``X-Service-Identity-Status: Confirmed``, ``X-Service-Project-Id``,
  ``X-Service-User-Id`` and ``X-Service-Roles``;
* an unknown token is answered 401; a request without ``X-Auth-Token`` goes on as
  anonymous.

The file is JSON, one entry per token::

    {"3f9c...": {"user": "alice", "project": "p-alice", "roles": ["member"]},
     "8e21...": {"user": "glance-api", "project": "service", "roles": ["service"]}}

It is read again when it changes (checked on each request by modification time, size
and inode). A file that turns unreadable or invalid fails closed: requests with a
token get 503 until it is fixed, so a revoked token never lives on. Tokens are kept
only as SHA-256 digests, compared in constant time, and never logged.

=========== ======= ================================================================
option      default meaning
=========== ======= ================================================================
tokens_file (none)  path of the JSON tokens file (required; keep it mode 0600)
=========== ======= ================================================================
"""

import hashlib
import hmac
import json
import logging
import os

from glance.common import config, exception, wsgi

LOG = logging.getLogger(__name__)

_CLIENT_IDENTITY = ('IDENTITY_STATUS', 'PROJECT_ID', 'TENANT_ID', 'USER_ID', 'ROLES',
                    'PROJECT_NAME', 'USER_NAME')
_STRIPPED = tuple('HTTP_X_' + name for name in _CLIENT_IDENTITY) + tuple(
    'HTTP_X_SERVICE_' + name for name in _CLIENT_IDENTITY)


def _digest(token):
    return hashlib.sha256(token.encode('utf-8', 'surrogateescape')).digest()


def parse_tokens(text):
    """Parse the tokens file into ``[(sha256 digest, (user, project, roles)), ...]``.

    :raises ValueError: naming the first problem (never quoting a token).
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError('the top level must be a JSON object of token -> identity')
    entries = []
    for number, (token, identity) in enumerate(data.items(), 1):
        if not isinstance(token, str) or len(token) < 16:
            raise ValueError('entry %d: a token must be a string of 16 or more '
                             'characters' % number)
        if not isinstance(identity, dict):
            raise ValueError('entry %d: the identity must be an object' % number)
        user, project = identity.get('user'), identity.get('project')
        roles = identity.get('roles', [])
        if not (isinstance(user, str) and user and isinstance(project, str) and project):
            raise ValueError('entry %d: "user" and "project" must be non-empty strings'
                             % number)
        if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
            raise ValueError('entry %d: "roles" must be a list of strings' % number)
        entries.append((_digest(token), (user, project, ','.join(roles))))
    return entries


class TokensFile:
    """The tokens of one file, read again whenever the file changes.

    :param path: the JSON tokens file.
    :raises ConfigError: when the file cannot be read or parsed at startup.
    """

    def __init__(self, path):
        self.path = path
        self._stamp = None
        self._entries = []
        self._error = None
        self._refresh()
        if self._error:
            raise exception.ConfigError('tokens_file', 'filter:tokens_file', self._error)

    def _refresh(self):
        try:
            stat = os.stat(self.path)
        except OSError as err:
            self._set_error(None, 'cannot read %s: %s' % (self.path, err.strerror))
            return
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp == self._stamp:
            return
        try:
            with open(self.path, encoding='utf-8') as source:
                entries = parse_tokens(source.read())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            self._set_error(stamp, '%s is not a valid tokens file: %s' % (self.path, err))
            return
        self._stamp, self._entries, self._error = stamp, entries, None
        LOG.info('Loaded %d tokens from %s', len(entries), self.path)

    def _set_error(self, stamp, message):
        if self._error != message:
            LOG.error('%s; requests with tokens are refused until it is fixed', message)
        self._stamp, self._entries, self._error = stamp, [], message

    def lookup(self, token):
        """Return ``(user, project, roles)`` for a token, or None.

        Every entry is compared, with :func:`hmac.compare_digest`, so the time taken
        does not depend on which entry (or which prefix) matched.

        :raises ServiceUnavailable: while the file is unreadable or invalid.
        """
        self._refresh()
        if self._error:
            raise exception.ServiceUnavailable(reason='the tokens file cannot be used')
        presented = _digest(token)
        found = None
        for digest, identity in self._entries:
            if hmac.compare_digest(digest, presented):
                found = identity
        return found


class TokensFileFilter:
    """Verify ``X-Auth-Token`` and ``X-Service-Token`` against a :class:`TokensFile`."""

    def __init__(self, app, conf):
        self.app = app
        path = config.Options(conf, 'filter:tokens_file').get_path('tokens_file')
        if not path:
            raise exception.ConfigError('tokens_file', 'filter:tokens_file',
                                        'the tokens_file filter needs a tokens_file path')
        self.tokens = TokensFile(path)

    def _confirm(self, environ, token, prefix):
        identity = self.tokens.lookup(token)
        if identity is None:
            return False
        user, project, roles = identity
        environ[prefix + 'IDENTITY_STATUS'] = 'Confirmed'
        environ[prefix + 'USER_ID'] = user
        environ[prefix + 'PROJECT_ID'] = project
        environ[prefix + 'ROLES'] = roles
        return True

    def __call__(self, environ, start_response):
        for key in _STRIPPED:
            environ.pop(key, None)
        environ['glance.token_auth'] = 'tokens_file'
        try:
            for header, prefix in (('HTTP_X_AUTH_TOKEN', 'HTTP_X_'),
                                   ('HTTP_X_SERVICE_TOKEN', 'HTTP_X_SERVICE_')):
                token = environ.get(header)
                if token and not self._confirm(environ, token, prefix):
                    name = header[5:].replace('_', '-').title()
                    return wsgi.json_error(
                        401, 'The %s is not valid' % name,
                        {'WWW-Authenticate': 'Token'})(environ, start_response)
        except exception.ServiceUnavailable as err:
            return wsgi.error_response(err)(environ, start_response)
        return self.app(environ, start_response)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`TokensFileFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: TokensFileFilter(app, conf)

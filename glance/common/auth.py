"""Tokens a Glance process presents: its own service identity, or a user's.

Two users of this module:

* glance-api, which calls the registry as itself (:class:`ServiceCredentials`): the
  user's token goes as ``X-Auth-Token`` and glance-api's own token as
  ``X-Service-Token``; the registry's auth filter verifies both and only then grants
  the ``service`` role (see :mod:`glance.middleware.context`).
* the clients (``glance``, ``glance-fetch``, the Nova side), which act for a user
  (:meth:`TokenSource.from_environ`): a token given as it is, or one obtained from
  Keystone v3 with password credentials.

Options of glance-api read by :meth:`ServiceCredentials.from_conf` (at most one mode):

=========================== ========= =================================================
option                      default   meaning
=========================== ========= =================================================
registry_service_token      (none)    secret: a static token sent as X-Service-Token
                                      (a registry in tokens-file mode)
registry_auth_url           (none)    Keystone v3 URL: glance-api logs in with the
                                      password credentials below and renews its token
registry_username           (none)    Keystone user of glance-api (role ``service``)
registry_password           (none)    secret: that user's password
registry_project_name       service   project the token is scoped to
registry_user_domain_id     default   domain of the user
registry_project_domain_id  default   domain of the project
registry_trusted_gateway    false     send ``X-Service-Roles: service`` unverified, for
                                      a registry in trusted_gateway mode only
=========================== ========= =================================================

Tokens are never logged and never part of an error message.
"""

import dataclasses
import datetime
import logging
import threading

from glance.common import client, config, exception

LOG = logging.getLogger(__name__)

#: Renew a Keystone token this long before it expires.
RENEW_MARGIN = datetime.timedelta(minutes=2)


@dataclasses.dataclass(frozen=True)
class PasswordCredentials:
    """Keystone v3 password credentials, scoped to a project.

    :param auth_url: the identity endpoint, e.g. ``http://127.0.0.1:5000/v3``.
    :param username: user name.
    :param password: a :class:`~glance.common.config.Secret` or a string.
    :param project_name: project to scope the token to.
    :param user_domain: ``('id', value)`` or ``('name', value)`` of the user's domain.
    :param project_domain: the same for the project's domain.
    """

    auth_url: str
    username: str
    password: object = dataclasses.field(repr=False)
    project_name: str
    user_domain: tuple = ('id', 'default')
    project_domain: tuple = ('id', 'default')

    def request_body(self):
        """The JSON body of ``POST /v3/auth/tokens``."""
        password = getattr(self.password, 'reveal', lambda: self.password)()
        return {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': self.username, 'password': password,
                'domain': {self.user_domain[0]: self.user_domain[1]}}}},
            'scope': {'project': {
                'name': self.project_name,
                'domain': {self.project_domain[0]: self.project_domain[1]}}}}}


def keystone_token(credentials, pool=None):
    """Log in to Keystone v3 with a password and return ``(token, expires_at)``.

    :param credentials: a :class:`PasswordCredentials`.
    :param pool: a :class:`~glance.common.client.HttpPool` carrying the TLS options.
    :returns: the token string and its expiry (an aware datetime, or None).
    :raises Unauthorized: for wrong credentials.
    :raises ServiceUnavailable: when Keystone cannot be reached or fails.
    """
    url = credentials.auth_url.rstrip('/')
    if not url.endswith('/v3'):
        url += '/v3'
    keystone = client.BaseJSONClient(url, pool)
    try:
        response = keystone.request('POST', '/auth/tokens',
                                    body=credentials.request_body())
    except exception.Unauthorized:
        raise exception.Unauthorized('Keystone refused the credentials of user %r in '
                                     'project %r' % (credentials.username,
                                                     credentials.project_name))
    token = response.headers.get('x-subject-token')
    if not token:
        raise exception.ServiceUnavailable(reason='Keystone answered without a token')
    expires = ((response.data or {}).get('token') or {}).get('expires_at')
    try:
        expires_at = datetime.datetime.fromisoformat(expires.replace('Z', '+00:00'))
    except (AttributeError, ValueError):
        expires_at = None
    return token, expires_at


class TokenSource:
    """A token for a long-lived client: a fixed one, or a Keystone login kept fresh.

    Calling it returns the token (or None when it has neither); a Keystone token is
    fetched on first use and again once it is within :data:`RENEW_MARGIN` of expiry.

    :param token: a fixed token (string or :class:`~glance.common.config.Secret`).
    :param password: :class:`PasswordCredentials` to log in with instead.
    :param pool: a :class:`~glance.common.client.HttpPool` with the TLS options.
    """

    def __init__(self, token=None, password=None, pool=None):
        self._fixed = getattr(token, 'reveal', lambda: token)()
        self._password = password
        self._pool = pool
        self._token = None
        self._expires_at = None
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ, token=None, ca_file=None, insecure=False,
                     timeout=client.DEFAULT_TIMEOUT):
        """The usual client sources, in order: ``token``, ``OS_AUTH_TOKEN``, then
        ``OS_AUTH_URL`` with ``OS_USERNAME``, ``OS_PASSWORD``, ``OS_PROJECT_NAME`` and
        ``OS_USER_DOMAIN_ID``/``_NAME``, ``OS_PROJECT_DOMAIN_ID``/``_NAME``.

        :param environ: the environment (``os.environ``).
        :param ca_file: PEM CAs trusted for an https Keystone.
        :param insecure: skip TLS verification of Keystone.
        :param timeout: seconds to connect and per read.
        """
        environ = environ or {}
        token = token or environ.get('OS_AUTH_TOKEN')
        if token or not (environ.get('OS_AUTH_URL') and environ.get('OS_USERNAME')
                         and environ.get('OS_PASSWORD')):
            return cls(token or None)
        credentials = PasswordCredentials(
            environ['OS_AUTH_URL'], environ['OS_USERNAME'],
            config.Secret(environ['OS_PASSWORD']),
            environ.get('OS_PROJECT_NAME') or environ.get('OS_TENANT_NAME') or '',
            _domain(environ, 'OS_USER_DOMAIN'), _domain(environ, 'OS_PROJECT_DOMAIN'))
        return cls(password=credentials, pool=client.HttpPool(
            timeout=timeout, ca_file=ca_file, insecure=insecure))

    def __bool__(self):
        return bool(self._fixed or self._password)

    def __call__(self):
        """Return the token, logging in first when needed (None without a source).

        :raises Unauthorized: for credentials Keystone refuses.
        :raises ServiceUnavailable: when Keystone cannot be reached.
        """
        if self._fixed or self._password is None:
            return self._fixed or None
        with self._lock:
            now = datetime.datetime.now(datetime.timezone.utc)
            if self._token is None or (self._expires_at is not None
                                       and self._expires_at - RENEW_MARGIN <= now):
                self._token, self._expires_at = keystone_token(self._password,
                                                               self._pool)
            return self._token


class ServiceCredentials:
    """glance-api's own identity towards the registry, as extra request headers.

    :param token: a static service token (:class:`~glance.common.config.Secret`).
    :param password: :class:`PasswordCredentials` to get (and renew) a Keystone token.
    :param trusted_gateway: send ``X-Service-Roles: service`` instead of a token.
    :param pool: the transport options used to reach Keystone.
    """

    def __init__(self, token=None, password=None, trusted_gateway=False, pool=None):
        self._token = TokenSource(token, password, pool)
        self._trusted_gateway = trusted_gateway

    @classmethod
    def from_conf(cls, conf, pool=None, section='DEFAULT'):
        """Build from glance-api's options (see the module table).

        :raises ConfigError: when more than one mode is configured, or the Keystone
            mode misses its user name or password.
        """
        opts = config.Options(conf, section)
        token = opts.get_secret('registry_service_token')
        auth_url = opts.get_str('registry_auth_url')
        trusted = opts.get_bool('registry_trusted_gateway', False)
        if sum((bool(token), bool(auth_url), trusted)) > 1:
            raise exception.ConfigError(
                'registry_service_token', section, 'set only one of '
                'registry_service_token, registry_auth_url, registry_trusted_gateway')
        password = None
        if auth_url:
            for name in ('registry_username', 'registry_password'):
                if not opts.get_str(name):
                    raise exception.ConfigError(name, section,
                                                'needed with registry_auth_url')
            password = PasswordCredentials(
                auth_url, opts.get_str('registry_username'),
                opts.get_secret('registry_password'),
                opts.get_str('registry_project_name', 'service'),
                ('id', opts.get_str('registry_user_domain_id', 'default')),
                ('id', opts.get_str('registry_project_domain_id', 'default')))
        return cls(token or None, password, trusted, pool)

    def headers(self):
        """Headers that identify glance-api to the registry (empty when unconfigured).

        :raises ServiceUnavailable: when a Keystone token is needed and cannot be had.
        """
        if self._token:
            try:
                return {'X-Service-Token': self._token()}
            except exception.Unauthorized as err:
                # The caller did nothing wrong: glance-api's own login failed.
                LOG.error('glance-api cannot log in to Keystone: %s', err)
                raise exception.ServiceUnavailable(
                    reason='glance-api cannot authenticate to the registry')
        if self._trusted_gateway:
            return {'X-Service-Roles': 'service'}
        return {}


#: What a client tells an anonymous user whom the server turned away.
ANONYMOUS_HINT = ('authenticate: set --os-auth-token (or OS_AUTH_TOKEN), or OS_AUTH_URL, '
                  'OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME for Keystone')


def _domain(environ, prefix):
    if environ.get(prefix + '_ID'):
        return ('id', environ[prefix + '_ID'])
    if environ.get(prefix + '_NAME'):
        return ('name', environ[prefix + '_NAME'])
    return ('id', 'default')

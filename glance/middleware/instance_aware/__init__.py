"""Related images (instance-aware images): an optional filter in front of the registry.

Enabled by the ``glance-registry-instance-aware`` pipeline of
``glance-registry-paste.ini``; without it the registry knows nothing of Nova.

Nova names an instance by the tuple ``(nova_installation_uuid, instance_id)``, sent in
the image's ``properties`` on ``POST /images`` and ``PUT /images/<id>``, with an
optional ``image_relation`` (default ``snapshot``; e.g. ``backup``). The filter takes
the three keys out of the JSON body, passes the rest on to the registry, and when the
registry answers 2xx records ``(image_id, installation, instance, relation)`` in its
own table (:mod:`glance.middleware.instance_aware.db`). The registry never sees them.

Accepted forms (anything else is a 400 naming the key):

* ``nova_installation_uuid``: a hyphenated UUID, any case; kept lower-case.
* ``instance_id``: Nova's integer id (a JSON number or decimal string, 1 to
  2**63-1), its EC2 form ``i-<hex>`` (``i-0000007b`` is instance 123, the same
  instance, as Nova renders ids that way), or a UUID. Kept as the decimal string or
  the lower-case UUID, so every spelling of one instance finds the same images.
* ``image_relation``: 1-32 characters of ``a-z 0-9 _ -`` starting with a letter,
  any case; kept lower-case.

Both tuple keys set to null on ``PUT`` remove the image's relation (null removes a
property in the registry, too). An image is related to one instance at most;
relating it again replaces the relation. ``DELETE /images/<id>`` and a ``PUT`` that
sets status ``deleted`` remove it.

``GET /images`` and ``GET /images/detail`` with ``nova_installation_uuid`` and
``instance_id`` (and optionally ``relation``) are passed to the registry below as
its own list (``sort_key``, ``sort_dir``, ``marker``, ``limit``), narrowed to the
related images by a subquery on this filter's table, so its visibility rules, paging
and record format apply unchanged and a page is one statement. Other filters cannot be
combined with the tuple (400). The records do not show the tuple: relations are
found by querying, and image records look the same with or without this filter.

Everything else passes through untouched: bodies without the tuple keys (malformed
JSON included, which the registry then rejects) and every other request.

=================== ================ =================================================
option              default          meaning
=================== ================ =================================================
sql_connection      (the registry's) database of the relations table; must be the
                                     registry's own (queries read its images table)
db_auto_create      true             create/upgrade the relations table at start-up
                                     (its own alembic history)
=================== ================ =================================================

The ``sql_pool_*`` options apply as documented in :mod:`glance.registry.db.session`.
Options come from glance-registry.conf and may be overridden in
``[filter:instance_aware]``.
"""

import dataclasses
import io
import json
import logging
import re
import urllib.parse

import webob

from glance.common import config, context, exception, wsgi
from glance.middleware.instance_aware import db
from glance.nova.installation import canonical_uuid
from glance.registry import api as registry_api, validation
from glance.registry.db import migration, session

LOG = logging.getLogger(__name__)

INSTALLATION_KEY = 'nova_installation_uuid'
INSTANCE_KEY = 'instance_id'
RELATION_KEY = 'image_relation'
RELATION_PARAM = 'relation'
DEFAULT_RELATION = 'snapshot'
MAX_BODY = 1024 * 1024  # the registry's own cap on JSON bodies
MAX_INSTANCE_ID = 2 ** 63 - 1

_TUPLE_KEYS = (INSTALLATION_KEY, INSTANCE_KEY)
_PROPERTY_KEYS = _TUPLE_KEYS + (RELATION_KEY,)
_QUERY_PARAMS = _TUPLE_KEYS + (RELATION_PARAM,) + validation.LIST_PARAMS
_LIST_PATHS = ('/images', '/images/detail')
_IMAGE_PATH = re.compile(r'^/images/(%s)$' % validation.UUID_PATTERN)
_DECIMAL = re.compile(r'^[0-9]{1,19}$')
_EC2_ID = re.compile(r'^i-([0-9a-f]{1,16})$', re.IGNORECASE)
_RELATION = re.compile(r'^[a-z][a-z0-9_-]{0,%d}$' % (db.RELATION_MAX - 1))
# Keys copied into the environ of a request made to the registry on the caller's
# behalf: its identity, and what the registry needs to build URLs as for the caller.
_SUBREQUEST_KEYS = (context.WSGI_KEY, 'glance.request_id', 'SERVER_NAME', 'SERVER_PORT',
                    'HTTP_HOST', 'SCRIPT_NAME', 'wsgi.url_scheme')


@dataclasses.dataclass(frozen=True)
class Relation:
    """The instance an image is related to, in canonical form."""

    installation_uuid: str
    instance_id: str
    relation: str


def canonical_instance_id(value):
    """Return Nova's instance id in its stored form (see the module docstring).

    :param value: a JSON number or string.
    :returns: a decimal string or a lower-case UUID.
    :raises Invalid: for anything else.
    """
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        ec2 = _EC2_ID.match(text)
        if _DECIMAL.match(text):
            number = int(text)
        elif ec2:
            number = int(ec2.group(1), 16)
        elif canonical_uuid(text):
            return canonical_uuid(text)
    if number is None or not 1 <= number <= MAX_INSTANCE_ID:
        raise exception.Invalid(reason='%s must be a Nova instance id: an integer from 1 '
                                'to 2**63-1, an EC2 id such as i-0000007b, or a UUID'
                                % INSTANCE_KEY)
    return str(number)


def _installation(value):
    canonical = canonical_uuid(value)
    if canonical is None:
        raise exception.Invalid(reason='%s must be a UUID such as '
                                '5f1c2a8e-3b4d-4e6f-8a9b-0c1d2e3f4a5b' % INSTALLATION_KEY)
    return canonical


def _relation(value, key):
    if not isinstance(value, str) or not _RELATION.match(value.strip().lower()):
        raise exception.Invalid(reason='%s must be 1-%d letters, digits, _ or -, '
                                'starting with a letter' % (key, db.RELATION_MAX))
    return value.strip().lower()


def relation_from_properties(properties):
    """Take the tuple keys out of an image's properties.

    :param properties: the ``properties`` dict of a request body; the keys are
        removed from it.
    :returns: a :class:`Relation`, or None when both tuple keys are null (remove the
        relation).
    :raises Invalid: when only one tuple key is given, a value is malformed, or the
        relation comes without the tuple.
    """
    given = {key: properties.pop(key) for key in _PROPERTY_KEYS if key in properties}
    if set(_TUPLE_KEYS) - set(given):
        raise exception.Invalid(reason='properties %s and %s must be given together'
                                % _TUPLE_KEYS)
    if given[INSTALLATION_KEY] is None and given[INSTANCE_KEY] is None:
        if given.get(RELATION_KEY) is not None:
            raise exception.Invalid(reason='%s needs %s and %s'
                                    % ((RELATION_KEY,) + _TUPLE_KEYS))
        return None
    relation = given.get(RELATION_KEY)
    return Relation(_installation(given[INSTALLATION_KEY]),
                    canonical_instance_id(given[INSTANCE_KEY]),
                    DEFAULT_RELATION if relation is None
                    else _relation(relation, RELATION_KEY))


def _asks_for_relations(environ):
    names = {name for name, _ in urllib.parse.parse_qsl(environ.get('QUERY_STRING', ''),
                                                        keep_blank_values=True)}
    return not names.isdisjoint(_TUPLE_KEYS)


class InstanceAwareFilter:
    """Keep the related-images tuple out of the registry and answer queries by it.

    :param app: the registry app (or the next filter).
    :param store: a :class:`~glance.middleware.instance_aware.db.RelationStore`.
    """

    def __init__(self, app, store):
        self.app = app
        self.store = store

    def __call__(self, environ, start_response):
        method = environ.get('REQUEST_METHOD')
        path = environ.get('PATH_INFO', '')
        if path in _LIST_PATHS and method in ('GET', 'HEAD') \
                and _asks_for_relations(environ):
            response = self._query(webob.Request(environ))
        elif path == '/images' and method == 'POST':
            response = self._write(environ, None)
        elif _IMAGE_PATH.match(path) and method == 'PUT':
            response = self._write(environ, _IMAGE_PATH.match(path).group(1).lower())
        elif _IMAGE_PATH.match(path) and method == 'DELETE':
            response = self._delete(environ, _IMAGE_PATH.match(path).group(1).lower())
        else:
            return self.app(environ, start_response)
        return response(environ, start_response)

    # -- writes ----------------------------------------------------------------------

    @staticmethod
    def _read_body(environ):
        """Return the request body, or None when it is declared larger than the cap.

        :raises RequestTooLarge: for a chunked body over the cap (the registry would
            refuse it the same way).
        """
        req = webob.Request(environ)
        if req.content_length is not None and req.content_length > MAX_BODY:
            return None
        raw = req.body_file.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise exception.RequestTooLarge(reason='JSON body over %d bytes' % MAX_BODY)
        return raw

    @staticmethod
    def _set_body(environ, body):
        environ['wsgi.input'] = io.BytesIO(body)
        environ['CONTENT_LENGTH'] = str(len(body))
        environ.pop('HTTP_TRANSFER_ENCODING', None)

    @staticmethod
    def _plan(raw):
        """Work out what a POST/PUT body asks of this filter.

        :returns: ``(body, action)``: the body to pass on (None: unchanged) and one of
            ``None`` (nothing to do), a :class:`Relation` to record, or ``'forget'``.
        :raises Invalid: for a malformed tuple.
        """
        try:
            image = json.loads(raw.decode('utf-8'))['image']
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError):
            return None, None
        if not isinstance(image, dict):
            return None, None
        properties = image.get('properties')
        if isinstance(properties, dict) and not properties.keys().isdisjoint(
                _PROPERTY_KEYS):
            relation = relation_from_properties(properties)
            body = json.dumps({'image': image}).encode('utf-8')
            return body, 'forget' if relation is None else relation
        if image.get('status') == 'deleted':
            return None, 'forget'
        return None, None

    def _write(self, environ, image_id):
        """``POST /images`` or ``PUT /images/<id>``: strip the tuple, record it on 2xx."""
        try:
            raw = self._read_body(environ)
            if raw is None:
                return self.app
            body, action = self._plan(raw)
        except exception.GlanceException as exc:
            return wsgi.error_response(exc)
        self._set_body(environ, raw if body is None else body)
        if action is None:
            return self.app
        response = webob.Request(environ).get_response(self.app)
        if not 200 <= response.status_int < 300:
            return response
        if image_id is None:
            image_id = json.loads(response.body)['image']['id']
        if action == 'forget':
            self._forget(image_id)
            return response
        try:
            self.store.relate(image_id, action.installation_uuid, action.instance_id,
                              action.relation)
        except exception.ServiceUnavailable as exc:
            return self._relate_failed(environ, image_id, exc)
        return response

    def _relate_failed(self, environ, image_id, exc):
        """Answer 503 when the relation of a created or updated image was not stored.

        A new image is deleted again, so that retrying the request leaves no
        unrelated twin; an update can simply be repeated.
        """
        if environ['REQUEST_METHOD'] == 'POST':
            self._subrequest(environ, 'DELETE', '/images/' + image_id)
            return wsgi.json_error(503, 'The image was not created: %s' % exc.message)
        return wsgi.json_error(503, 'Image %s was updated but its relation was not '
                               'recorded (%s); repeat the request'
                               % (image_id, exc.message))

    def _forget(self, image_id):
        try:
            self.store.forget(image_id)
        except exception.ServiceUnavailable as exc:
            # Deliberately swallowed: the image is gone from the registry, and queries
            # skip deleted images, so a left-over row only costs a little space.
            LOG.warning('Image %s: relation row not removed: %s', image_id, exc.message)

    def _delete(self, environ, image_id):
        """``DELETE /images/<id>``: pass on; on 2xx forget the image's relation."""
        response = webob.Request(environ).get_response(self.app)
        if 200 <= response.status_int < 300:
            self._forget(image_id)
        return response

    # -- queries ---------------------------------------------------------------------

    def _subrequest(self, environ, method, path):
        """Send a request to the registry below, as the caller."""
        sub_environ = {key: environ[key] for key in _SUBREQUEST_KEYS if key in environ}
        return webob.Request.blank(path, environ=sub_environ,
                                   method=method).get_response(self.app)

    def _query(self, req):
        """``GET /images[/detail]?nova_installation_uuid=&instance_id=[&relation=]``.

        The registry below answers the list itself, narrowed to the related images
        (:data:`glance.registry.api.ONLY_IDS_KEY`): its paging, visibility, formats
        and limits apply, and a page is one statement. Only the ``next`` link gets
        the tuple back.
        """
        try:
            params = validation.query_params(req, lambda name: True)
            unknown = sorted(set(params) - set(_QUERY_PARAMS))
            if unknown:
                raise exception.Invalid(
                    reason='query parameter %r cannot be combined with %s and %s; only '
                    'relation, sort_key, sort_dir, limit and marker can'
                    % ((unknown[0][:64],) + _TUPLE_KEYS))
            if set(_TUPLE_KEYS) - set(params):
                raise exception.Invalid(reason='query parameters %s and %s must be given '
                                        'together' % _TUPLE_KEYS)
            relation = (_relation(params[RELATION_PARAM], RELATION_PARAM)
                        if RELATION_PARAM in params else None)
            related = self.store.related_ids(
                _installation(params[INSTALLATION_KEY]),
                canonical_instance_id(params[INSTANCE_KEY]), relation)
        except exception.GlanceException as exc:
            return wsgi.error_response(exc)
        list_params = {name: value for name, value in params.items()
                       if name in validation.LIST_PARAMS}
        environ = dict(req.environ, QUERY_STRING=urllib.parse.urlencode(list_params))
        environ[registry_api.ONLY_IDS_KEY] = related
        response = webob.Request(environ).get_response(self.app)
        if (req.method != 'GET' or response.status_int != 200
                or response.content_type != 'application/json'):
            return response
        body = response.json_body
        if 'next' in body:
            tuple_params = {name: value for name, value in params.items()
                            if name not in validation.LIST_PARAMS}
            body['next'] += '&' + urllib.parse.urlencode(tuple_params)
            response.json_body = body
        return response


def prepare_table(engine, auto_create):
    """Create or upgrade the relations table, or check that it is current.

    :raises ConfigError: when the database cannot be used or, with ``auto_create``
        false, the table is not at the newest revision.
    """
    try:
        migration.prepare_schema(engine, auto_create, db.HISTORY)
    except exception.ConfigError as err:
        if err.option != 'db_auto_create':
            raise
        raise exception.ConfigError(
            'db_auto_create', 'filter:instance_aware',
            'the related-images table is not at revision %s; set db_auto_create = true '
            'in [filter:instance_aware] to create or upgrade it (only that table)'
            % db.HISTORY.head()) from None


def filter_factory(global_conf, **local_conf):
    """Paste filter factory of :class:`InstanceAwareFilter` (options: module table).

    :raises ConfigError: for a bad option or an unusable database.
    """
    conf = config.merge(global_conf, local_conf)
    opts = config.Options(conf, 'filter:instance_aware')
    engine = session.create_engine(conf)
    prepare_table(engine, opts.get_bool('db_auto_create', True))
    store = db.RelationStore(engine)
    return lambda app: InstanceAwareFilter(app, store)

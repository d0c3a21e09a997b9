"""Version discovery of glance-api: ``GET /`` and ``GET /versions``, before any auth.

keystoneauth (and so openstacksdk) reads this document to find the v2 endpoint of
the catalog's unversioned ``image`` URL: it picks the highest ``v2.x`` whose status
is ``CURRENT`` or ``SUPPORTED`` and follows its ``self`` link. As in glance, ``/``
answers ``300 Multiple Choices`` and ``/versions`` (asked for explicitly) ``200``;
the body is the same::

    {"versions": [{"id": "v2.5", "status": "CURRENT",
                   "links": [{"rel": "self", "href": "http://host:9292/v2/"}]}, ...]}

v2.5 is the newest version whose features the v2 subset serves (community
visibility, members, tags, JSON patch); v1 is listed for the ``/v1`` surface; the
native API's paths are unversioned and have no entry.

The document says nothing about images, so, as in glance, it is answered by a paste
filter placed before the auth filters (``versions`` in ``etc/glance-api-paste.ini``):
a client may discover versions before it has a token.
"""

import webob

from glance.common import wsgi

#: (id, status, path) of every version listed, newest first.
VERSIONS = (
    ('v2.5', 'CURRENT', 'v2'),
    ('v2.4', 'SUPPORTED', 'v2'),
    ('v2.3', 'SUPPORTED', 'v2'),
    ('v2.2', 'SUPPORTED', 'v2'),
    ('v2.1', 'SUPPORTED', 'v2'),
    ('v2.0', 'SUPPORTED', 'v2'),
    ('v1.1', 'SUPPORTED', 'v1'),
    ('v1.0', 'SUPPORTED', 'v1'),
)
#: The paths answered, and the status of each.
PATHS = {'/': 300, '/versions': 200}


def document(host_url):
    """The version list, with links under ``host_url`` (scheme, host, script name)."""
    return {'versions': [
        {'id': version, 'status': status,
         'links': [{'rel': 'self', 'href': '%s/%s/' % (host_url, path)}]}
        for version, status, path in VERSIONS]}


class VersionsFilter:
    """Answer ``GET|HEAD /`` and ``/versions``; pass everything else on."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        status = PATHS.get(environ.get('PATH_INFO') or '/')
        if status is None:
            return self.app(environ, start_response)
        req = webob.Request(environ)
        if req.method not in ('GET', 'HEAD'):
            response = wsgi.json_error(405, 'Method %s not allowed on %s; allowed: GET, '
                                       'HEAD' % (req.method, req.path_info),
                                       {'Allow': 'GET, HEAD'})
        else:
            response = wsgi.json_response(document(req.host_url + req.script_name),
                                          status=status)
        return response(environ, start_response)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`VersionsFilter` (no options)."""
    return VersionsFilter

"""Version discovery of glance-api: ``GET /`` and ``GET /versions``.

keystoneauth (and so openstacksdk) reads this document to find the v2 endpoint of
the catalog's unversioned ``image`` URL: it picks the highest ``v2.x`` whose status
is ``CURRENT`` or ``SUPPORTED`` and follows its ``self`` link. As in glance, ``/``
answers ``300 Multiple Choices`` and ``/versions`` (asked for explicitly) ``200``;
the body is the same::

    {"versions": [{"id": "v2.5", "status": "CURRENT",
                   "links": [{"rel": "self", "href": "http://host:9292/v2/"}]}, ...]}

v2.5 is the newest version whose features this subset serves (community
visibility, members, tags, JSON patch); the native API has no version entry (its
paths are unversioned) and v1 is listed for the ``/v1`` surface.
"""

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


class VersionsController(wsgi.Controller):
    """The version list, with links under the request's own host URL."""

    @staticmethod
    def _document(req):
        base = req.host_url + req.script_name
        return {'versions': [
            {'id': version, 'status': status,
             'links': [{'rel': 'self', 'href': '%s/%s/' % (base, path)}]}
            for version, status, path in VERSIONS]}

    def choices(self, req):
        """``GET /``: 300 with the version list (the client picks one)."""
        return wsgi.json_response(self._document(req), status=300)

    def index(self, req):
        """``GET /versions``: 200 with the version list."""
        return self._document(req)


def connect_routes(mapper, controller=None):
    """Add ``GET /`` and ``GET /versions`` to glance-api's mapper."""
    controller = controller or VersionsController()
    mapper.connect('/', controller=controller, action='choices',
                   conditions={'method': ['GET', 'HEAD']})
    mapper.connect('/versions', controller=controller, action='index',
                   conditions={'method': ['GET', 'HEAD']})

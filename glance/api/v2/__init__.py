"""The OpenStack Image v2 API subset served by glance-api under ``/v2``.

See :mod:`glance.api.v2.routes` for the requests served; every handler calls the
image core (:class:`glance.api.core.ImageCore`), so v2 shares the native API's
upload, download, visibility and delete behaviour.
"""

"""The glance-api client library: one way for Glance's own tools to talk to glance-api.

Used by the ``glance`` CLI (:mod:`glance.cli`), glance-fetch (:mod:`glance.agent.fetch`)
and Nova's image services (:mod:`glance.nova.image_service`). One job per module:

* :mod:`glance.client.transport`: base URLs, TLS (CA bundle, ``insecure``, client
  certificates), timeouts, one connection per request, retries only for bodiless
  GET/HEAD; its URL and TLS-file checks are shared with the registry's JSON client
  (:mod:`glance.common.client`).
* :mod:`glance.client.errors`: the one status → exception table.
* :mod:`glance.client.codec`: the ``x-image-meta-*`` header codec.
* :mod:`glance.client.streams`: upload and download bodies in bounded blocks.
* :mod:`glance.client.verify`: download verification (size and digests).
* :mod:`glance.client.images`: :class:`~glance.client.images.ImageClient`, the calls.
"""

"""Teller's local image cache ("Teller may cache frequently accessed images").

* :mod:`~glance.api.cache.index`: the on-disk state (entries, records, queue) and the
  size cap with LRU eviction;
* :mod:`~glance.api.cache.fill`: single-flight fills read by requests as they grow;
* :mod:`~glance.api.cache.serve`: the layer the image core calls after its
  registry lookup (hit, fill in progress, or miss).
"""

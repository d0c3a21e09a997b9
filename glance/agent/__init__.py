"""The node agent's side of Glance: fetch an image through glance-api and unbundle it.

The design has the node agent ask Teller for an image by its URI, then "unpack the
image ... and then boot the instance". :mod:`glance.agent.fetch` downloads (with resume
and checksum verification) and :mod:`glance.agent.unbundle` unpacks safely. Both are
importable by Nova: they need no Glance server code, only :mod:`glance.common`.
"""

"""The text form of an ``x-image-meta-*`` value, shared by glance-api and its clients.

Glance writes booleans the way Glance v1 always did, ``True``/``False`` (both sides
read them back case-insensitively, :func:`glance.common.config.as_bool` on the
server), and any other value as ``str()``. glance-api's answers
(:mod:`glance.api.headers`) and client requests (:mod:`glance.client.codec`) both
go through :func:`as_header_text`, so the two cannot drift apart.
"""


def as_header_text(value):
    """A metadata value as header text.

    :param value: a bool, number or text.
    :returns: ``'True'``/``'False'`` for a bool, else ``str(value)``.
    """
    if isinstance(value, bool):
        return 'True' if value else 'False'
    return str(value)

"""The image record's life cycle and who may set which field: the one statement of it.

Parallax enforces these rules for every caller, administrators included; glance-api's
upload and registration flows follow them with the ``service`` identity.

Status machine (setting the current status again is a no-op):

============== ============================================ ==========================
from           to                                           why
============== ============================================ ==========================
queued         saving, active, killed, pending_delete,      upload starts; locations
               deleted, uploading                           registered; given up;
                                                            data staged (v2 import)
uploading      saving, killed, deleted                      the staged data's import
                                                            starts; failed; given up
saving         active, killed, deleted                      upload done; failed; an
                                                            upload stuck by a crash
active         pending_delete, deleted                      its data is being deleted
killed         pending_delete, deleted                      cleanup of a failed upload
pending_delete deleted                                      data gone, record next
deleted        (none)                                       final; the id is never
                                                            reused
============== ============================================ ==========================

Field rules:

* :data:`SERVICE_FIELDS` (``status``, ``size``, the digests, the detected format,
  ``virtual_size`` and ``chunks``) are set only by requests whose context
  :attr:`~glance.common.context.RequestContext.is_service` (glance-api's upload and
  registration flows). Other callers change the status only
  by deleting the image (``DELETE``), which follows the same table.
* :data:`DATA_FIELDS` of an image that has been ``active`` (``active``,
  ``pending_delete``, ``deleted``) never change again, whoever asks: downloads are
  verified against them. The one exception, :data:`RECORDED_ONCE_FIELDS`, may be
  filled in once while empty (the BLAKE3 digest and detected format of a registered
  location, measured on its first full read).
* Making an image ``public`` or ``community`` (also ``is_public: true``) needs a
  role of ``publish_roles`` (:attr:`~glance.common.context.RequestContext.can_publish`).
* A ``protected`` image cannot be deleted (nor moved to ``pending_delete``) by
  anyone, admins included, until ``protected`` is set to false (403).

Sharing rules (``/images/<id>/members``):

* Only shared images (``visibility: shared``) take new members.
* The owner and admins manage the members; so does a member whose membership has
  ``can_share``.
* Only the member itself sets its ``status`` (pending, accepted, rejected).
"""

from glance.common import exception

STATUSES = ('queued', 'saving', 'active', 'killed', 'deleted', 'pending_delete',
            'uploading')

#: The status machine (see the module table).
TRANSITIONS = {
    'queued': frozenset(('saving', 'active', 'killed', 'pending_delete', 'deleted',
                         'uploading')),
    'uploading': frozenset(('saving', 'killed', 'deleted')),
    'saving': frozenset(('active', 'killed', 'deleted')),
    'active': frozenset(('pending_delete', 'deleted')),
    'killed': frozenset(('pending_delete', 'deleted')),
    'pending_delete': frozenset(('deleted',)),
    'deleted': frozenset(),
}

#: Fields describing the stored bytes; frozen once an image has been active.
DATA_FIELDS = ('size', 'checksum', 'sha256', 'blake3', 'detected_format',
               'virtual_size', 'chunks')
#: Data fields that may still be recorded once on a frozen image while they are
#: empty: glance-api computes them on the first full read of a registered location.
RECORDED_ONCE_FIELDS = ('blake3', 'detected_format', 'virtual_size')
#: Fields only the upload flow (a service identity) may set.
SERVICE_FIELDS = ('status',) + DATA_FIELDS
#: Statuses in which :data:`DATA_FIELDS` are frozen.
FROZEN_STATUSES = ('active', 'pending_delete', 'deleted')


def check_caller_fields(context, values):
    """Refuse service-only fields from a caller without the service identity.

    :param context: the caller's :class:`~glance.common.context.RequestContext`.
    :param values: the checked fields of a create or update request.
    :raises Forbidden: naming the fields, for a caller that is not a service.
    """
    if context.is_service:
        return
    refused = [name for name in SERVICE_FIELDS if name in values]
    if refused:
        raise exception.Forbidden(
            '%s can only be set by the upload flow (glance-api) or a service '
            'identity' % ', '.join(refused))


def check_new_status(status):
    """Check the status a new image starts in: queued or a status reachable from it.

    :raises Invalid: for ``pending_delete`` or ``deleted``.
    """
    if status in ('pending_delete', 'deleted'):
        raise exception.Invalid(reason='a new image cannot have status %s' % status)


def check_change(image_id, current_status, current_data, values):
    """Check an update against the status machine and the frozen data fields.

    :param image_id: for messages.
    :param current_status: the image's status now.
    :param current_data: ``{field: value}`` of :data:`DATA_FIELDS` now (``chunks`` as
        a list of ``{"location", "size", "checksum"}``).
    :param values: the checked fields of the update.
    :raises Conflict: for a transition outside :data:`TRANSITIONS`, or a change of a
        data field of an image that has been active.
    """
    status = values.get('status', current_status)
    if status != current_status and status not in TRANSITIONS[current_status]:
        raise exception.Conflict(reason='image %s cannot go from status %s to %s'
                                 % (image_id, current_status, status))
    if current_status in FROZEN_STATUSES:
        changed = [name for name in DATA_FIELDS
                   if name in values and values[name] != current_data[name]
                   and not (name in RECORDED_ONCE_FIELDS and current_data[name] is None)]
        if changed:
            raise exception.Conflict(
                reason='image %s is %s: its %s cannot change (the data it describes '
                       'is immutable; upload a new image instead)'
                       % (image_id, current_status, ', '.join(changed)))


#: Visibilities only callers with a publishing role may give an image.
PUBLISHED_VISIBILITIES = ('public', 'community')
#: Statuses a protected image cannot take.
DELETING_STATUSES = ('pending_delete', 'deleted')


def check_publishing(context, values):
    """Refuse making an image public or community without a publishing role.

    :raises Forbidden: naming the visibility.
    """
    visibility = values.get('visibility')
    if visibility in PUBLISHED_VISIBILITIES and not context.can_publish:
        raise exception.Forbidden('your roles may not make images %s (publish_roles)'
                                  % visibility)


def check_protection(image_id, protected, values):
    """Refuse deleting a protected image (the update may unprotect it first).

    :param protected: whether the image is protected now.
    :raises Forbidden: with the reason, for a deleting status while protected.
    """
    if values.get('status') in DELETING_STATUSES and values.get('protected', protected):
        raise exception.Forbidden('image %s is protected: set protected to false '
                                  'before deleting it' % image_id)


def check_member_manager(context, image_id, owner, membership):
    """Check that the caller may add, change or remove members of an image.

    :param owner: the image's owner.
    :param membership: the caller's own live membership of the image, or None.
    :raises Forbidden: unless the caller owns the image, is an admin, or is a member
        with ``can_share``.
    """
    if context.can_modify(owner) or (membership is not None and membership.can_share):
        return
    raise exception.Forbidden('only the owner of image %s, an admin or a member '
                              'allowed to share it may manage its members' % image_id)


def check_shared(image_id, visibility):
    """Refuse new members for an image that is not ``shared``.

    :raises Forbidden: naming the visibility.
    """
    if visibility != 'shared':
        raise exception.Forbidden('image %s is %s: only shared images have members '
                                  '(set visibility to shared first)'
                                  % (image_id, visibility))


def check_status_setter(context, member_id):
    """Check that the caller is the member whose status it sets.

    :raises Forbidden: for anyone else, owners and admins included.
    """
    if context.tenant != member_id:
        raise exception.Forbidden('only member %s itself may accept or reject the '
                                  'image' % member_id)

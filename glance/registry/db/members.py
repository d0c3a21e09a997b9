"""Queries of image sharing: an image's members and the images shared with a tenant.

Every function takes a :class:`glance.registry.db.session.Database` and runs in one
transaction that locks the image row first, so concurrent changes to one image's
members are serialised. Who may do what is :mod:`glance.registry.image_rules`; the
visibility of the image itself is :func:`glance.registry.db.api.check_visible`.
Removed members keep their row (soft delete); adding one again revives it.
"""

import sqlalchemy as sa

from glance.common import exception
from glance.registry import image_rules
from glance.registry.db import api as db_api
from glance.registry.db import models
from glance.registry.db.models import Image, ImageMember


def _live(session, image_id):
    """``{member_id: row}`` of every member row of the image, removed ones included."""
    rows = session.scalars(sa.select(ImageMember).where(ImageMember.image_id == image_id))
    return {row.member_id: row for row in rows}


def _image(session, context, image_id):
    image = db_api.load(session, context, image_id, lock=True)
    if image.deleted:
        raise exception.Conflict(reason='image %s is deleted' % image_id)
    return image


def _manageable(session, context, image_id):
    """The locked image and its member rows, for a caller who may manage them."""
    image = _image(session, context, image_id)
    rows = _live(session, image_id)
    own = rows.get(context.tenant)
    image_rules.check_member_manager(context, image_id, image.owner,
                                     None if own is None or own.deleted else own)
    return image, rows


def _revive(session, image_id, rows, member_id, can_share, status, now):
    """The live row of ``member_id``: as it is, or new (a removed one revived)."""
    row = rows.get(member_id)
    if row is not None and not row.deleted:
        return row
    if row is None:
        row = ImageMember(image_id=image_id, member_id=member_id)
        session.add(row)
        rows[member_id] = row
    row.can_share, row.status, row.deleted, row.deleted_at = (can_share, status, False,
                                                              None)
    row.created_at = row.updated_at = now
    return row


def _check_quota(image_id, rows, max_members):
    count = sum(1 for row in rows.values() if not row.deleted)
    if count > max_members:
        raise exception.RequestTooLarge(
            reason='image %s would have %d members; at most %d are allowed '
                   '(image_member_quota)' % (image_id, count, max_members))


def _sorted(rows):
    return sorted((row for row in rows.values() if not row.deleted),
                  key=lambda row: row.member_id)


def member_list(database, context, image_id):
    """The live members of an image the caller can see.

    The owner, admins and members allowed to share see every member; any other
    caller sees its own membership only (or none).

    :raises ImageNotFound: when the image is not visible to the caller.
    """
    with database.session() as session:
        image = db_api.load(session, context, image_id)
        rows = _live(session, image_id)
        own = rows.get(context.tenant)
        if context.can_modify(image.owner) or context.sees_every_image or (
                own is not None and not own.deleted and own.can_share):
            return _sorted(rows)
        return [own] if own is not None and not own.deleted else []


def members_replace(database, context, image_id, memberships, new_status,
                    max_members):
    """Make the image's members exactly ``memberships``.

    Members that stay keep their status; new ones start in ``new_status``.

    :param memberships: ``{member_id: can_share}``.
    :param new_status: ``pending``, or ``accepted`` for glance-api's v1 surface.
    :param max_members: most members an image may have.
    :returns: the live members afterwards.
    :raises Forbidden: see :func:`glance.registry.image_rules.check_member_manager`
        and :func:`~glance.registry.image_rules.check_shared`.
    """
    with database.session() as session:
        image, rows = _manageable(session, context, image_id)
        if memberships:
            image_rules.check_shared(image_id, image.visibility)
        now = models.utcnow()
        for member_id, row in rows.items():
            if not row.deleted and member_id not in memberships:
                row.deleted, row.deleted_at, row.updated_at = True, now, now
        for member_id, can_share in memberships.items():
            row = _revive(session, image_id, rows, member_id, can_share, new_status, now)
            if row.can_share != can_share:
                row.can_share, row.updated_at = can_share, now
        _check_quota(image_id, rows, max_members)
        session.flush()
        return _sorted(rows)


def member_set(database, context, image_id, member_id, can_share, status, new_status,
               max_members):
    """Add a member, change its ``can_share``, or set its own ``status``.

    :param can_share: the new ``can_share``, or None (unchanged; false when new).
    :param status: the member's answer (only the member itself may give it), or None.
    :param new_status: status of a new membership (``pending`` or ``accepted``).
    :returns: the member row.
    :raises NotFound: when a status is set for a tenant that is not a member.
    :raises Forbidden: see :mod:`glance.registry.image_rules`.
    """
    with database.session() as session:
        now = models.utcnow()
        if status is not None:
            image_rules.check_status_setter(context, member_id)
            _image(session, context, image_id)
            row = _live(session, image_id).get(member_id)
            if row is None or row.deleted:
                raise exception.NotFound('%s is not a member of image %s'
                                         % (member_id, image_id))
            if row.status != status:
                row.status, row.updated_at = status, now
            return row
        image, rows = _manageable(session, context, image_id)
        existing = rows.get(member_id)
        if existing is None or existing.deleted:
            image_rules.check_shared(image_id, image.visibility)
        row = _revive(session, image_id, rows, member_id, bool(can_share), new_status,
                      now)
        if can_share is not None and row.can_share != can_share:
            row.can_share, row.updated_at = can_share, now
        _check_quota(image_id, rows, max_members)
        session.flush()
        return row


def member_delete(database, context, image_id, member_id):
    """Remove a member.

    :raises NotFound: when the tenant is not a member.
    :raises Forbidden: see :func:`glance.registry.image_rules.check_member_manager`.
    """
    with database.session() as session:
        _, rows = _manageable(session, context, image_id)
        row = rows.get(member_id)
        if row is None or row.deleted:
            raise exception.NotFound('%s is not a member of image %s'
                                     % (member_id, image_id))
        now = models.utcnow()
        row.deleted, row.deleted_at, row.updated_at = True, now, now


def shared_images(database, context, member_id):
    """The live memberships of ``member_id`` on images that are not deleted.

    The member itself and admins get all of them; another tenant gets those on its
    own images (whom it shared what with).

    :returns: member rows ordered by image id.
    """
    statement = (sa.select(ImageMember).join(Image, Image.id == ImageMember.image_id)
                 .where(ImageMember.member_id == member_id,
                        ImageMember.deleted == sa.false(), Image.deleted == sa.false())
                 .order_by(ImageMember.image_id))
    if not (context.sees_every_image or context.tenant == member_id):
        if context.tenant is None:
            return []
        statement = statement.where(Image.owner == context.tenant)
    with database.session() as session:
        return list(session.scalars(statement))

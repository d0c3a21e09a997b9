"""The v2 JSON view of registry records: images and members.

An image is flat, as glance shows it: the base properties of
:mod:`glance.api.v2.schemas` plus every extra property (the registry's
``properties``) as a top-level string. An extra property whose name is a base
property (possible for images made through the native or v1 API) is left out: the
base value wins. The registry's sha256 is the image's multihash (``os_hash_algo``
``sha256``); its other digests and the chunk locations are not shown.
"""

import datetime

from glance.api.v2 import schemas

#: The ``os_hash_algo`` of every image: the registry keeps the data's sha256.
HASH_ALGO = 'sha256'
IMAGES_PATH = '/v2/images'
IMAGE_SCHEMA = '/v2/schemas/image'
IMAGES_SCHEMA = '/v2/schemas/images'
MEMBER_SCHEMA = '/v2/schemas/member'
MEMBERS_SCHEMA = '/v2/schemas/members'


def timestamp(value):
    """A registry timestamp (ISO 8601, microseconds) as v2 shows it: to the second, Z."""
    if not value:
        return value
    moment = datetime.datetime.fromisoformat(value)
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def image_path(image_id, *more):
    """The image's path under ``/v2`` (``self``), or a sub-resource's (``file``)."""
    return '/'.join((IMAGES_PATH, image_id) + more)


def image(record):
    """The v2 view of a registry image record (a dict, JSON-able)."""
    view = {key: value for key, value in (record.get('properties') or {}).items()
            if key not in schemas.BASE}
    sha256 = record.get('sha256')
    view.update(
        id=record['id'], name=record.get('name'), status=record['status'],
        visibility=record.get('visibility'), protected=bool(record.get('protected')),
        os_hidden=False, checksum=record.get('checksum'),
        os_hash_algo=HASH_ALGO if sha256 else None, os_hash_value=sha256,
        owner=record.get('owner'), size=record.get('size'),
        virtual_size=record.get('virtual_size'),
        container_format=record.get('container_format'),
        disk_format=record.get('disk_format'),
        min_disk=record.get('min_disk') or 0, min_ram=record.get('min_ram') or 0,
        tags=list(record.get('tags') or ()),
        created_at=timestamp(record.get('created_at')),
        updated_at=timestamp(record.get('updated_at')),
        self=image_path(record['id']), file=image_path(record['id'], 'file'),
        schema=IMAGE_SCHEMA)
    return view


def member(record):
    """The v2 view of a registry membership record."""
    return {'image_id': record['image_id'], 'member_id': record['member_id'],
            'status': record['status'],
            'created_at': timestamp(record.get('created_at')),
            'updated_at': timestamp(record.get('updated_at')),
            'schema': MEMBER_SCHEMA}

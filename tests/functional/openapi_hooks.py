"""Schemathesis hooks of test_openapi.py (loaded through ``SCHEMATHESIS_HOOKS``).

The image v2 API takes JSON patches in its own media type,
``application/openstack-images-v2.1-json-patch``, which schemathesis does not know
how to send: it is JSON on the wire.
"""

import json

import schemathesis


@schemathesis.serializer('application/openstack-images-v2.1-json-patch')
def json_patch(ctx, value):
    """Send a generated patch document as JSON text."""
    return {'data': json.dumps(value).encode('utf-8')}

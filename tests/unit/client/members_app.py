"""A WSGI app speaking glance-api's Glance v1 members wire format, in memory.

It checks request shapes strictly (a body other than the documented one is a 400)
so the client and CLI tests pin the wire format the real glance-api serves.
"""

import json
import re

_MEMBERS = re.compile(r'^/v1/images/([^/]+)/members(?:/([^/]+))?$')
_SHARED = re.compile(r'^/v1/shared-images/([^/]+)$')


class MembersApp:
    """Images ``{image_id: {member_id: can_share}}``; unknown images are 404."""

    def __init__(self, *image_ids):
        self.images = {image_id: {} for image_id in image_ids}
        self.requests = []

    def __call__(self, environ, start_response):
        length = int(environ.get('CONTENT_LENGTH') or 0)
        raw = environ['wsgi.input'].read(length) if length else b''
        method, path = environ['REQUEST_METHOD'], environ['PATH_INFO']
        self.requests.append((method, path, raw, environ.get('HTTP_X_AUTH_TOKEN')))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._answer(start_response, 400, {'error': {'message': 'bad JSON'}})
        status, data = self._route(method, path, body)
        return self._answer(start_response, status, data)

    @staticmethod
    def _answer(start_response, status, data):
        payload = json.dumps(data).encode('utf-8') if data is not None else b''
        start_response('%d X' % status, [('Content-Type', 'application/json'),
                                          ('Content-Length', str(len(payload)))])
        return [payload]

    def _route(self, method, path, body):
        shared = _SHARED.match(path)
        if shared and method == 'GET':
            return 200, {'shared_images': [
                {'image_id': image_id, 'can_share': members[shared.group(1)]}
                for image_id, members in sorted(self.images.items())
                if shared.group(1) in members]}
        match = _MEMBERS.match(path)
        if not match:
            return 404, {'error': {'message': 'no such path'}}
        image_id, member = match.groups()
        if image_id not in self.images:
            return 404, {'error': {'message': 'No image found with id %s' % image_id}}
        members = self.images[image_id]
        if member is None and method == 'GET':
            return 200, {'members': [{'member_id': key, 'can_share': value}
                                     for key, value in sorted(members.items())]}
        if member is None and method == 'PUT':
            if not isinstance(body, dict) or not isinstance(body.get('memberships'),
                                                            list):
                return 400, {'error': {'message': 'expected memberships'}}
            members.clear()
            members.update((item['member_id'], bool(item.get('can_share')))
                           for item in body['memberships'])
            return 204, None
        if member is not None and method == 'PUT':
            if body is not None and set(body) != {'member'}:
                return 400, {'error': {'message': 'expected member'}}
            can_share = (body or {}).get('member', {}).get('can_share')
            members[member] = members.get(member, False) if can_share is None \
                else can_share
            return 204, None
        if member is not None and method == 'DELETE':
            if members.pop(member, None) is None:
                return 404, {'error': {'message': 'not a member'}}
            return 204, None
        return 405, {'error': {'message': 'method not allowed'}}

"""Visibility, members, tags and protection through the real registry app (SQLite)."""

import pytest

from glance.registry import api
from tests.unit.registry.conftest import Caller


def _error(response, status):
    assert response.status_int == status, response.text
    message = response.json['error']['message']
    assert 'Traceback' not in message
    return message


def _ids(caller, query=''):
    response = caller('GET', '/images/detail' + query)
    assert response.status_int == 200, response.text
    return {image['id'] for image in response.json['images']}


@pytest.fixture
def carol(registry_app):
    """Tenant ``carol``, who may not publish."""
    return Caller(registry_app, 'carol', ('member',))


def test_new_images_are_shared_and_is_public_follows_visibility(alice):
    image = alice.create(name='plain')
    assert (image['visibility'], image['is_public']) == ('shared', False)
    assert (image['protected'], image['min_disk'], image['min_ram'], image['tags']) == (
        False, 0, 0, [])
    public = alice.create(is_public=True)
    assert (public['visibility'], public['is_public']) == ('public', True)
    private = alice.create(visibility='private', min_disk=10, min_ram=512,
                           tags=['b', 'a', 'b'])
    assert (private['is_public'], private['min_disk'], private['min_ram'],
            private['tags']) == (False, 10, 512, ['a', 'b'])
    message = _error(alice('POST', '/images', {'image': {'is_public': True,
                                                         'visibility': 'private'}}), 400)
    assert 'disagree' in message


@pytest.mark.parametrize('visibility', ['public', 'community'])
def test_publishing_needs_a_publishing_role(carol, visibility):
    message = _error(carol('POST', '/images', {'image': {'visibility': visibility}}), 403)
    assert visibility in message and 'publish_roles' in message
    assert carol.create(visibility='private')['visibility'] == 'private'


@pytest.mark.parametrize('field, value', [('visibility', 'secret'), ('min_disk', -1),
                                          ('min_ram', 2 ** 31), ('protected', 'yes'),
                                          ('tags', 'a'), ('tags', ['']),
                                          ('tags', ['x\n'])])
def test_bad_new_fields_are_400_naming_the_field(alice, field, value):
    message = _error(alice('POST', '/images', {'image': {field: value}}), 400)
    assert field in message


def test_members_see_a_shared_image_and_list_it_once_accepted(alice, bob, carol):
    shared = alice.create(name='shared')
    private = alice.create(name='private', visibility='private')
    assert bob('GET', '/images/' + shared['id']).status_int == 404
    response = alice('PUT', '/images/%s/members/bob' % shared['id'])
    assert response.status_int == 200, response.text
    member = response.json['member']
    assert (member['image_id'], member['member_id'], member['can_share'],
            member['status']) == (shared['id'], 'bob', False, 'pending')
    assert bob('GET', '/images/' + shared['id']).json['image']['name'] == 'shared'
    assert carol('GET', '/images/' + shared['id']).status_int == 404
    assert shared['id'] not in _ids(bob)
    assert _ids(bob, '?member_status=pending') == {shared['id']}
    assert _ids(bob, '?member_status=all&visibility=shared') == {shared['id']}

    # Only bob answers for bob.
    _error(alice('PUT', '/images/%s/members/bob' % shared['id'],
                 {'member': {'status': 'accepted'}}), 403)
    accepted = bob('PUT', '/images/%s/members/bob' % shared['id'],
                   {'member': {'status': 'accepted'}})
    assert accepted.json['member']['status'] == 'accepted'
    assert _ids(bob) == {shared['id']}
    assert _ids(bob, '?member_status=pending') == set()
    assert _ids(alice) == {shared['id'], private['id']}
    assert _ids(alice, '?visibility=private') == {private['id']}

    # A private image takes no members.
    message = _error(alice('PUT', '/images/%s/members/bob' % private['id']), 403)
    assert 'only shared images have members' in message


def test_member_management_rules(alice, bob, carol, admin):
    image = alice.create()
    path = '/images/%s/members' % image['id']
    _error(bob('PUT', path + '/carol'), 404)  # bob cannot even see it
    response = alice('PUT', path, {'memberships': [
        {'member_id': 'bob', 'can_share': True}, {'member_id': 'carol'}]})
    assert response.status_int == 200, response.text
    assert [(m['member_id'], m['can_share'], m['status'])
            for m in response.json['members']] == [('bob', True, 'pending'),
                                                   ('carol', False, 'pending')]
    # carol sees only her own membership and may not share further.
    assert [m['member_id'] for m in carol('GET', path).json['members']] == ['carol']
    _error(carol('PUT', path + '/dave'), 403)
    # bob, allowed to share, may add dave and sees every member.
    assert bob('PUT', path + '/dave').status_int == 200
    assert [m['member_id'] for m in bob('GET', path).json['members']] == [
        'bob', 'carol', 'dave']
    # Removing and adding again makes a new pending membership.
    assert bob('PUT', path + '/bob', {'member': {'status': 'accepted'}}).status_int == 200
    assert alice('DELETE', path + '/bob').status_int == 204
    _error(alice('DELETE', path + '/bob'), 404)
    assert bob('GET', '/images/' + image['id']).status_int == 404
    again = admin('PUT', path + '/bob', {'member': {'can_share': False}})
    assert again.json['member']['status'] == 'pending'
    _error(alice('PUT', path, {'memberships': [{'member_id': 'x'}, {'member_id': 'x'}]}),
           400)
    _error(alice('PUT', path + '/bob', {'member': {'status': 'maybe'}}), 400)


def test_only_glance_api_creates_accepted_memberships(alice, service):
    image = alice.create()
    header = {'X-Glance-Member-Status': 'accepted'}
    _error(alice('PUT', '/images/%s/members/bob' % image['id'], headers=header), 403)
    response = service('PUT', '/images/%s/members/bob' % image['id'], headers=header)
    assert response.json['member']['status'] == 'accepted'


def test_shared_images_of_a_member(alice, bob, carol, admin):
    first, second = alice.create(), alice.create()
    for image in (first, second):
        alice('PUT', '/images/%s/members/bob' % image['id'],
              {'member': {'can_share': image is first}})
    bob('PUT', '/images/%s/members/bob' % second['id'], {'member': {'status': 'rejected'}})
    expected = sorted([{'image_id': first['id'], 'can_share': True, 'status': 'pending'},
                       {'image_id': second['id'], 'can_share': False,
                        'status': 'rejected'}], key=lambda item: item['image_id'])
    for caller in (bob, alice, admin):
        assert caller('GET', '/shared-images/bob').json == {'shared_images': expected}
    assert carol('GET', '/shared-images/bob').json == {'shared_images': []}
    alice('DELETE', '/images/' + first['id'])
    assert [item['image_id'] for item in bob('GET', '/shared-images/bob').json[
        'shared_images']] == [second['id']]


def test_community_images_are_visible_to_all_but_listed_on_request(
        alice, bob, anonymous, admin):
    community = alice.create(visibility='community')
    public = alice.create(visibility='public')
    for caller in (bob, anonymous):
        assert caller('GET', '/images/' + community['id']).status_int == 200
        assert _ids(caller) == {public['id']}
        assert _ids(caller, '?visibility=community') == {community['id']}
        assert _ids(caller, '?visibility=all') == {community['id'], public['id']}
    assert _ids(alice) == {community['id'], public['id']}
    assert _ids(bob, '?is_public=true') == {public['id']}
    assert _ids(admin) == {public['id']}
    assert _ids(admin, '?visibility=all') == {community['id'], public['id']}
    _error(bob('GET', '/images?visibility=everyone'), 400)
    _error(bob('GET', '/images?member_status=maybe'), 400)


def test_protected_images_cannot_be_deleted_until_unprotected(alice, admin, service):
    image = alice.create(protected=True)
    path = '/images/' + image['id']
    for caller in (alice, admin):
        message = _error(caller('DELETE', path), 403)
        assert 'protected' in message
    _error(service('PUT', path, {'image': {'status': 'pending_delete'}}), 403)
    assert alice('PUT', path, {'image': {'protected': False}}).status_int == 200
    assert alice('DELETE', path).status_int == 204


def test_tags_set_added_removed_and_filtered(alice, bob):
    tagged = alice.create(tags=['linux', 'x86'])
    other = alice.create(tags=['linux'])
    path = '/images/%s/tags/' % tagged['id']
    assert alice('PUT', path + 'gold%20image').status_int == 204
    assert alice('PUT', path + 'gold%20image').status_int == 204
    assert alice('GET', '/images/' + tagged['id']).json['image']['tags'] == [
        'gold image', 'linux', 'x86']
    assert _ids(alice, '?tag=linux') == {tagged['id'], other['id']}
    assert _ids(alice, '?tag=linux&tag=x86') == {tagged['id']}
    assert alice('DELETE', path + 'x86').status_int == 204
    _error(alice('DELETE', path + 'x86'), 404)
    assert _ids(alice, '?tag=linux&tag=x86') == set()
    updated = alice('PUT', '/images/' + other['id'], {'image': {'tags': ['arm']}})
    assert updated.json['image']['tags'] == ['arm']
    public = alice.create(visibility='public')
    _error(bob('PUT', '/images/%s/tags/mine' % public['id']), 403)


def test_tag_filter_pages_keep_every_tag_in_the_next_link(alice):
    for _ in range(7):
        alice.create(tags=['a', 'b'])
    alice.create(tags=['a'])
    page = alice('GET', '/images?tag=a&tag=b&limit=5').json
    assert len(page['images']) == 5 and 'tag=a&tag=b' in page['next']
    rest = alice('GET', page['next'].split('9191', 1)[1]).json
    assert len(rest['images']) == 2 and 'next' not in rest


def test_member_quota_is_a_413(database):
    app = api.build_app(database, api.RegistryOptions(image_member_quota=2))
    alice = Caller(app, 'alice', ('member',))
    image = alice.create()
    path = '/images/%s/members' % image['id']
    assert alice('PUT', path + '/bob').status_int == 200
    assert alice('PUT', path + '/carol').status_int == 200
    assert 'image_member_quota' in _error(alice('PUT', path + '/dave'), 413)
    many = {'memberships': [{'member_id': name} for name in ('b', 'c', 'd')]}
    _error(alice('PUT', path, many), 413)
    assert [m['member_id'] for m in alice('GET', path).json['members']] == ['bob', 'carol']

"""Sharing, visibility, tags and protection over HTTP: the real registry daemon on
SQLite, MariaDB and PostgreSQL, called by raw HTTP and by RegistryClient."""

import pytest

from glance.common import auth, exception
from glance.common.context import RequestContext
from tests.functional.test_registry_api import ADMIN, registry, tenants  # noqa: F401


def _ids(registry, tenant, query=''):
    images, _ = registry.walk('/images' + query, tenant)
    return {image['id'] for image in images}


def test_members_see_shared_images_in_get_and_lists_by_member_status(registry, tenants):
    alice, bob = tenants
    carol = bob.replace('bob', 'carol')
    shared = registry.create(alice, name='shared')
    path = '/images/%s/members' % shared['id']
    registry.call('GET', '/images/' + shared['id'], tenant=bob).error(404)
    reply = registry.call('PUT', path, {'memberships': [{'member_id': bob}]},
                          tenant=alice)
    assert reply.status == 200, reply.body
    assert [(m['member_id'], m['status']) for m in reply.json['members']] == [
        (bob, 'pending')]

    assert registry.call('GET', '/images/' + shared['id'], tenant=bob).status == 200
    registry.call('GET', '/images/' + shared['id'], tenant=carol).error(404)
    mine = '?owner=%s' % alice
    assert _ids(registry, bob, mine) == set()
    assert _ids(registry, bob, mine + '&member_status=pending') == {shared['id']}

    registry.call('PUT', path + '/' + bob, {'member': {'status': 'accepted'}},
                  tenant=alice).error(403)
    reply = registry.call('PUT', path + '/' + bob, {'member': {'status': 'accepted'}},
                          tenant=bob)
    assert reply.json['member']['status'] == 'accepted'
    assert _ids(registry, bob, mine) == {shared['id']}
    assert _ids(registry, bob, mine + '&visibility=shared') == {shared['id']}
    shared_with_bob = registry.call('GET', '/shared-images/' + bob, tenant=bob).json
    assert shared_with_bob == {'shared_images': [
        {'image_id': shared['id'], 'can_share': False, 'status': 'accepted'}]}

    assert registry.call('DELETE', path + '/' + bob, tenant=alice).status == 204
    registry.call('GET', '/images/' + shared['id'], tenant=bob).error(404)
    assert _ids(registry, bob, mine + '&member_status=all') == set()


def test_community_listing_tags_and_protected_delete(registry, tenants):
    alice, bob = tenants
    community = registry.create(alice, name='community', visibility='community',
                                tags=['gold', 'linux'])
    public = registry.create(alice, name='public', is_public=True, tags=['linux'],
                             protected=True, min_disk=20, min_ram=1024)
    mine = '?owner=%s' % alice
    assert registry.call('GET', '/images/' + community['id'], tenant=bob).status == 200
    assert registry.call('GET', '/images/' + community['id']).status == 200
    assert _ids(registry, bob, mine) == {public['id']}
    assert _ids(registry, bob, mine + '&visibility=community') == {community['id']}
    assert _ids(registry, bob, mine + '&tag=linux&visibility=all') == {
        community['id'], public['id']}
    assert _ids(registry, bob, mine + '&tag=linux&tag=gold&visibility=all') == {
        community['id']}

    shown = registry.call('GET', '/images/' + public['id'], tenant=bob).json['image']
    assert (shown['visibility'], shown['is_public'], shown['protected'],
            shown['min_disk'], shown['min_ram'], shown['tags']) == (
        'public', True, True, 20, 1024, ['linux'])
    message = registry.call('DELETE', '/images/' + public['id'], tenant=alice).error(403)
    assert 'protected' in message
    registry.call('DELETE', '/images/' + public['id'], tenant='ops',
                  roles=ADMIN).error(403)
    registry.call('PUT', '/images/' + public['id'], {'image': {'protected': False}},
                  tenant=alice)
    assert registry.call('DELETE', '/images/' + public['id'], tenant=alice).status == 204


def test_registry_client_sharing_and_tags(registry, tenants, make_client):
    alice, bob = tenants
    owner = make_client([registry.url]).with_context(
        RequestContext(tenant=alice, roles=['member']))
    member = make_client([registry.url]).with_context(
        RequestContext(tenant=bob, roles=['member']))
    glance_api = make_client([registry.url], credentials=auth.ServiceCredentials(
        trusted_gateway=True)).with_context(RequestContext(tenant=alice, roles=['member']))
    image = owner.create_image({'name': 'shared'})

    added = owner.add_member(image['id'], bob, can_share=True)
    assert (added['member_id'], added['can_share'], added['status']) == (
        bob, True, 'pending')
    assert member.get_image(image['id'])['name'] == 'shared'
    assert member.set_member_status(image['id'], bob, 'accepted')['status'] == 'accepted'
    assert [m['member_id'] for m in member.list_members(image['uri'])] == [bob]
    assert member.shared_images(bob) == [
        {'image_id': image['id'], 'can_share': True, 'status': 'accepted'}]
    listed = member.list_images(filters={'owner': alice})['images']
    assert [item['id'] for item in listed] == [image['id']]

    carol = bob.replace('bob', 'carol')
    replaced = glance_api.replace_members(image['id'], [
        {'member_id': bob, 'can_share': False}, {'member_id': carol}], accepted=True)
    assert [(m['member_id'], m['status']) for m in replaced] == [
        (bob, 'accepted'), (carol, 'accepted')]
    owner.delete_member(image['id'], carol)
    with pytest.raises(exception.NotFound):
        owner.delete_member(image['id'], carol)
    with pytest.raises(exception.Forbidden):
        member.add_member(image['id'], carol)

    owner.add_tag(image['id'], 'gold image?')
    owner.add_tag(image['id'], 'linux')
    assert owner.get_image(image['id'])['tags'] == ['gold image?', 'linux']
    tagged = owner.list_images(filters={'owner': alice, 'tag': ['linux', 'gold image?']})
    assert [item['id'] for item in tagged['images']] == [image['id']]
    owner.delete_tag(image['id'], 'gold image?')
    with pytest.raises(exception.NotFound):
        owner.delete_tag(image['id'], 'gold image?')
    with pytest.raises(exception.Forbidden):
        member.add_tag(image['id'], 'theirs')

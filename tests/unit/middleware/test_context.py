"""The context filter: identity only from an auth filter, or trusted_gateway mode."""

import logging

import pytest
import webob

from glance.common import context
from glance.middleware import context as context_filter

FORGED = {'X-Tenant-Id': 't1', 'X-Project-Id': 't1', 'X-User-Id': 'u1',
          'X-Roles': 'member, admin', 'X-Identity-Status': 'Confirmed',
          'X-Service-Roles': 'service', 'X-Service-Identity-Status': 'Confirmed'}


def _seen(headers=None, environ=None, **conf):
    """Run one request through the filter; return (response, context seen by the app)."""
    seen = {}

    def app(env, start_response):
        seen['ctx'] = context.from_environ(env)
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']

    filtered = context_filter.filter_factory({}, **conf)(app)
    req = webob.Request.blank('/', headers=headers or {})
    req.environ.update(environ or {})
    return req.get_response(filtered), seen.get('ctx')


def _confirmed(project='p1', user='u1', roles='member', service_roles=None):
    """The headers auth_token / tokens_file set, plus the environ key proving it ran."""
    headers = {'X-Identity-Status': 'Confirmed', 'X-Project-Id': project,
               'X-User-Id': user, 'X-Roles': roles, 'X-Auth-Token': 'user-token'}
    if service_roles is not None:
        headers.update({'X-Service-Identity-Status': 'Confirmed',
                        'X-Service-Roles': service_roles})
    return headers


def test_forged_identity_headers_without_an_auth_filter_are_anonymous():
    response, ctx = _seen(FORGED)
    assert response.status_int == 200
    assert ctx.is_anonymous and ctx.user is None and ctx.roles == ()
    assert not ctx.is_admin and not ctx.is_service and not ctx.can_publish


@pytest.mark.parametrize('marker', context_filter.AUTH_FILTER_KEYS)
def test_confirmed_identity_behind_an_auth_filter_is_used(marker):
    _, ctx = _seen(_confirmed(roles='member,reader'), {marker: object()})
    assert (ctx.tenant, ctx.user, ctx.roles) == ('p1', 'u1', ('member', 'reader'))
    assert ctx.auth_token == 'user-token' and not ctx.is_service


def test_unconfirmed_identity_behind_an_auth_filter_is_anonymous():
    headers = dict(_confirmed(roles='admin'), **{'X-Identity-Status': 'Invalid'})
    _, ctx = _seen(headers, {'glance.token_auth': 'tokens_file'})
    assert ctx.is_anonymous and not ctx.is_admin


def test_service_role_comes_only_from_a_confirmed_service_token():
    marker = {'keystone.token_auth': object()}
    _, user_claims_it = _seen(_confirmed(roles='member,service'), marker)
    assert not user_claims_it.is_service and user_claims_it.roles == ('member',)
    _, unconfirmed = _seen(dict(_confirmed(), **{'X-Service-Roles': 'service'}), marker)
    assert not unconfirmed.is_service
    _, service = _seen(_confirmed(service_roles='service,reader'), marker)
    assert service.is_service and service.can_see_locations
    assert service.tenant == 'p1' and 'admin' not in service.roles


def test_admin_role_name_is_configuration_and_the_literal_admin_is_not_admin():
    marker = {'glance.token_auth': 'tokens_file'}
    _, literal = _seen(_confirmed(roles='admin'), marker, admin_role='cloud-admin')
    assert not literal.is_admin and literal.roles == ()
    _, configured = _seen(_confirmed(roles='cloud-admin'), marker,
                          admin_role='cloud-admin')
    assert configured.is_admin and configured.can_publish


def test_publish_roles_are_configuration():
    marker = {'glance.token_auth': 'tokens_file'}
    _, member = _seen(_confirmed(roles='member'), marker)
    assert not member.can_publish
    _, allowed = _seen(_confirmed(roles='member'), marker, publish_roles='admin, member')
    assert allowed.can_publish
    _, service = _seen(_confirmed(roles='reader', service_roles='service'), marker)
    assert service.is_service and not service.can_publish


def test_trusted_gateway_mode_believes_the_headers_and_warns(caplog):
    with caplog.at_level(logging.WARNING, 'glance.middleware.context'):
        _, ctx = _seen({'X-Tenant-Id': 't1', 'X-User-Id': 'u1',
                        'X-Roles': 'member, admin', 'X-Service-Roles': 'service'},
                       trusted_gateway='true')
    assert (ctx.tenant, ctx.user) == ('t1', 'u1')
    assert ctx.is_admin and ctx.is_service
    assert any('trusted_gateway' in record.getMessage() for record in caplog.records)


def test_trusted_gateway_mode_never_takes_service_from_x_roles():
    _, ctx = _seen({'X-Tenant-Id': 't1', 'X-Roles': 'member,service'},
                   trusted_gateway='true')
    assert not ctx.is_service and not ctx.can_see_locations


@pytest.mark.parametrize('headers, name', [
    ({'X-Tenant-Id': 'a b;c'}, 'X-Tenant-Id'),
    ({'X-Tenant-Id': 't', 'X-Roles': 'ok,bad role'}, 'X-Roles'),
])
def test_trusted_gateway_rejects_malformed_headers(headers, name):
    response, ctx = _seen(headers, trusted_gateway='true')
    assert response.status_int == 400 and ctx is None
    assert name in response.json['error']['message']


def test_forwarded_headers_never_carry_the_service_role():
    ctx = context.RequestContext('t1', 'u1', ['member', 'service'], auth_token='tok',
                                 request_id='req-1')
    assert ctx.to_headers() == {'X-Tenant-Id': 't1', 'X-User-Id': 'u1',
                                'X-Roles': 'member', 'X-Auth-Token': 'tok',
                                'X-Request-Id': 'req-1'}


def test_visibility_rules():
    alice = context.RequestContext('alice', roles=['member'])
    admin = context.RequestContext('ops', roles=['admin'])
    anonymous = context.RequestContext()
    assert alice.can_see('alice', 'shared') and alice.can_see('bob', 'public')
    assert not alice.can_see('bob', 'shared')
    assert admin.can_see('bob', 'shared') and admin.can_modify('bob')
    assert not anonymous.can_modify(None) and anonymous.can_see('bob', 'public')
    assert not alice.can_see_locations and not admin.can_see_locations
    assert context.RequestContext('alice', roles=['service']).can_see_locations


def _service_only(acting_as=None):
    """What glance-api sends with no user: only its verified service token."""
    headers = {'X-Service-Identity-Status': 'Confirmed', 'X-Service-Roles': 'service'}
    if acting_as is not None:
        headers[context.ACTING_AS_SERVICE_HEADER] = acting_as
    return headers


def test_the_service_acting_as_itself_sees_every_image_but_a_relayed_anonymous_not():
    marker = {'keystone.token_auth': object()}
    _, itself = _seen(_service_only('service'), marker)
    assert itself.is_service and itself.sees_every_image
    assert itself.can_see('bob', 'shared') and not itself.is_admin
    assert not itself.can_modify('bob')
    _, relayed_anonymous = _seen(_service_only(), marker)
    assert relayed_anonymous.is_service and not relayed_anonymous.sees_every_image
    assert not relayed_anonymous.can_see('bob', 'shared')


def test_claiming_to_act_as_the_service_without_its_token_gains_nothing():
    marker = {'keystone.token_auth': object()}
    _, forged = _seen({context.ACTING_AS_SERVICE_HEADER: 'service'}, marker)
    assert not forged.is_service and not forged.sees_every_image
    assert not forged.can_see('bob', 'shared')
    _, user = _seen(dict(_confirmed(service_roles='service'),
                         **{context.ACTING_AS_SERVICE_HEADER: 'service'}), marker)
    assert user.is_service and not user.sees_every_image


def test_the_service_itself_context_says_so_in_its_headers():
    assert context.RequestContext.service_itself().to_headers() == {
        context.ACTING_AS_SERVICE_HEADER: 'service'}

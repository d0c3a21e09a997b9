"""Unit tests of the address classifier and the allow-list of the URL stores."""

import ipaddress
import socket

import pytest

from glance.common import config, exception, wsgi
from glance.store import base, netpolicy

# Every spelling a URL's host can take for a loopback, metadata or private address.
NUMERIC_SPELLINGS = [
    ('127.0.0.1', '127.0.0.1'),
    ('2130706433', '127.0.0.1'),
    ('0x7f000001', '127.0.0.1'),
    ('0X7F000001', '127.0.0.1'),
    ('017700000001', '127.0.0.1'),
    ('0177.0.0.1', '127.0.0.1'),
    ('0x7f.0.0.1', '127.0.0.1'),
    ('127.1', '127.0.0.1'),
    ('127.0.1', '127.0.0.1'),
    ('0x7f.1', '127.0.0.1'),
    ('127.0.0.1.', '127.0.0.1'),
    ('0', '0.0.0.0'),
    ('169.254.169.254', '169.254.169.254'),
    ('2852039166', '169.254.169.254'),
    ('0xa9fea9fe', '169.254.169.254'),
    ('0251.0376.0251.0376', '169.254.169.254'),
    ('10.1', '10.0.0.1'),
    ('::1', '::1'),
    ('0:0:0:0:0:0:0:1', '::1'),
    ('::ffff:127.0.0.1', '::ffff:7f00:1'),
    ('::ffff:7f00:1', '::ffff:7f00:1'),
    ('fe80::1%eth0', 'fe80::1%eth0'),
]


@pytest.mark.parametrize('host,address', NUMERIC_SPELLINGS)
def test_numeric_spellings_parse_to_the_address_they_mean(host, address):
    assert netpolicy.parse_numeric_host(host) == ipaddress.ip_address(address)


# Scoped and trailing-dot forms are left out: the C library does not take them as
# numbers (a trailing dot makes a name), so they never reach a socket as such.
@pytest.mark.parametrize('host', [h for h, _ in NUMERIC_SPELLINGS
                                  if '%' not in h and not h.endswith('.')])
def test_numeric_spellings_agree_with_the_c_library(host):
    # What a resolver would connect to is what the classifier judges.
    resolved = socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)[0][4][0]
    assert ipaddress.ip_address(resolved) == netpolicy.parse_numeric_host(host)


@pytest.mark.parametrize('host', ['example.com', 'localhost', 'a.1', '1.example',
                                  '1e100.net', 'x0x7f000001'])
def test_names_are_not_numeric(host):
    assert netpolicy.parse_numeric_host(host) is None


@pytest.mark.parametrize('host', ['1.2.3.4.5', '256.0.0.1', '1.2.3.256', '1.16777216',
                                  '4294967296', '09.0.0.1', ':::1', '::ffff:1.2.3'])
def test_invalid_numeric_hosts_are_errors_not_names(host):
    with pytest.raises(ValueError):
        netpolicy.parse_numeric_host(host)


@pytest.mark.parametrize('address,reason', [
    ('127.0.0.1', 'loopback'),
    ('127.255.255.254', 'loopback'),
    ('0.0.0.0', 'unspecified'),
    ('169.254.169.254', 'link-local'),
    ('10.0.0.1', 'private'),
    ('172.16.0.1', 'private'),
    ('192.168.1.1', 'private'),
    ('100.64.0.1', 'shared'),
    ('100.127.255.254', 'shared'),
    ('224.0.0.1', 'multicast'),
    ('239.255.255.250', 'multicast'),
    ('240.0.0.1', 'reserved'),
    ('255.255.255.255', 'reserved'),
    ('192.0.2.1', 'private'),
    ('198.18.0.1', 'private'),
    ('::', 'unspecified'),
    ('::1', 'loopback'),
    ('fe80::1', 'link-local'),
    ('fc00::1', 'private'),
    ('fd12:3456::1', 'private'),
    ('ff02::1', 'multicast'),
    ('2001:db8::1', 'private'),
    ('::ffff:127.0.0.1', 'IPv4-mapped'),
    ('::ffff:8.8.8.8', 'IPv4-mapped'),
    ('::127.0.0.1', 'IPv4-compatible'),
    ('::8.8.8.8', 'IPv4-compatible'),
    ('2002:7f00:1::1', '6to4 address embedding a loopback'),
    ('2002:a9fe:a9fe::1', '6to4 address embedding a link-local'),
    ('2002:0a00:0001::1', '6to4 address embedding a private'),
    ('2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo address embedding a loopback'),
    ('64:ff9b::7f00:1', 'NAT64 address embedding a loopback'),
    ('64:ff9b::a9fe:a9fe', 'NAT64 address embedding a link-local'),
])
def test_non_global_addresses_are_refused_with_their_category(address, reason):
    assert reason in netpolicy.refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize('address', ['8.8.8.8', '1.1.1.1', '2606:4700::1111',
                                     '2002:0808:0808::1'])
def test_global_addresses_pass(address):
    assert netpolicy.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize('host', [h for h, _ in NUMERIC_SPELLINGS])
def test_policy_refuses_every_spelling_without_looking_it_up(host, monkeypatch):
    def no_lookup(*args, **kwargs):
        raise AssertionError('a numeric host must not reach the resolver')
    monkeypatch.setattr(socket, 'getaddrinfo', no_lookup)
    with pytest.raises(netpolicy.AddressRefused) as info:
        netpolicy.AddressPolicy('http').resolve(host, 80)
    assert info.value.message.startswith('Location refused: host %s is ' % host)
    assert 'allowed_networks' in info.value.message


def test_refusal_is_a_bad_location_so_it_answers_400():
    assert issubclass(netpolicy.AddressRefused, base.BadLocation)
    refused = netpolicy.AddressRefused(host='127.0.0.1', reason='is loopback',
                                       store='http')
    assert wsgi.status_for(refused) == 400


def test_a_name_is_judged_by_every_address_it_resolves_to(monkeypatch):
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('93.184.216.34', 80)),
               (socket.AF_INET6, socket.SOCK_STREAM, 6, '', ('::1', 80, 0, 0))]
    monkeypatch.setattr(socket, 'getaddrinfo', lambda *a, **k: answers)
    with pytest.raises(netpolicy.AddressRefused) as info:
        netpolicy.AddressPolicy('http').resolve('images.example', 80)
    assert 'resolves to a loopback address' in info.value.message
    monkeypatch.setattr(socket, 'getaddrinfo', lambda *a, **k: answers[:1])
    assert netpolicy.AddressPolicy('http').resolve('images.example', 80) == [
        ipaddress.ip_address('93.184.216.34')]


def test_localhost_is_refused_by_what_it_resolves_to():
    with pytest.raises(netpolicy.AddressRefused):
        netpolicy.AddressPolicy('http').resolve('localhost', 80)


def test_an_unresolvable_name_is_unavailable(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
    monkeypatch.setattr(socket, 'getaddrinfo', fail)
    with pytest.raises(base.StoreUnavailable):
        netpolicy.AddressPolicy('http').resolve('nowhere.invalid', 80)


def test_malformed_numeric_host_is_a_bad_location():
    with pytest.raises(base.BadLocation) as info:
        netpolicy.AddressPolicy('http').resolve('127.0.0.256', 80)
    assert 'not a valid IP address' in info.value.message


def _policy(**options):
    return netpolicy.AddressPolicy.from_options('http', config.Options(options,
                                                                         'store:http'))


def test_allowed_networks_admit_their_addresses_only():
    policy = _policy(allowed_networks='127.0.0.0/8, ::1/128')
    assert policy.resolve('0x7f000001', 80) == [ipaddress.ip_address('127.0.0.1')]
    assert policy.resolve('::1', 80) == [ipaddress.ip_address('::1')]
    assert policy.resolve('localhost', 80)
    for refused in ('169.254.169.254', '10.0.0.1', '::ffff:127.0.0.1'):
        with pytest.raises(netpolicy.AddressRefused):
            policy.resolve(refused, 80)


def test_allowed_hosts_match_the_name_exactly(monkeypatch):
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('10.0.0.5', 80))]
    monkeypatch.setattr(socket, 'getaddrinfo', lambda *a, **k: answers)
    policy = _policy(allowed_hosts='Mirror.Internal')
    assert policy.resolve('mirror.internal', 80) == [ipaddress.ip_address('10.0.0.5')]
    assert policy.resolve('MIRROR.internal.', 80)
    with pytest.raises(netpolicy.AddressRefused):
        policy.resolve('other.internal', 80)
    with pytest.raises(netpolicy.AddressRefused):
        policy.resolve('mirror.internal.evil', 80)


def test_a_bad_network_is_a_config_error_naming_the_option():
    with pytest.raises(exception.ConfigError) as info:
        _policy(allowed_networks='127.0.0.0/8, lots')
    assert info.value.option == 'allowed_networks'
    assert info.value.section == 'store:http'


def test_connect_goes_to_the_checked_address_not_the_host(monkeypatch):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    try:
        port = listener.getsockname()[1]
        sock = netpolicy.connect([ipaddress.ip_address('127.0.0.1')],
                                 ('no-such-host.invalid', port), timeout=5)
        accepted, _ = listener.accept()
        accepted.close()
        sock.close()
    finally:
        listener.close()

"""Where the URL stores may connect: Teller's guard against server-side request forgery.

A tenant chooses the URL of an ``http(s)://`` location, so without a guard glance-api
would fetch whatever it is told to: the cloud metadata service (169.254.169.254),
its own loopback ports, the operator's private networks. :class:`AddressPolicy`
resolves a host **once**, refuses it when any of its addresses is not globally
routable, unless the operator's allow-list names it, and hands back the checked
addresses; :func:`connect` then connects to exactly those addresses, so nothing can
change between the check and the connection (no second DNS lookup, no rebinding).

Numeric hosts are parsed here with ``inet_aton`` rules, never sent to a resolver,
so every spelling of an address (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
``127.1``, ``[::ffff:127.0.0.1]``) is judged as the address it is.

Refused (see :func:`refusal`): unspecified, loopback, link-local, multicast, private,
shared address space (100.64.0.0/10), reserved and every other non-global range;
IPv4-mapped and IPv4-compatible IPv6; 6to4, Teredo and NAT64 addresses that embed a
refused IPv4 address.

================ ======= ============================================================
option           default meaning
================ ======= ============================================================
allowed_hosts    (none)  host names (case-insensitive, exact) allowed whatever they
                         resolve to
allowed_networks (none)  CIDR networks allowed although not global, e.g.
                         ``127.0.0.0/8, ::1/128``
================ ======= ============================================================
"""

import ipaddress
import re
import socket

from glance.common import exception
from glance.store.base import BadLocation, StoreUnavailable

_NUMBER = re.compile(r'^(0[xX][0-9a-fA-F]*|[0-9]+)$')
_SHARED = ipaddress.IPv4Network('100.64.0.0/10')
_IPV4_COMPATIBLE = ipaddress.IPv6Network('::/96')
_NAT64 = ipaddress.IPv6Network('64:ff9b::/96')
# Largest value of the last part of an inet_aton address with 1, 2, 3 or 4 parts.
_LAST_PART_MAX = {1: 2 ** 32 - 1, 2: 2 ** 24 - 1, 3: 2 ** 16 - 1, 4: 255}
_CATEGORIES = (
    ('is_unspecified', 'the unspecified address'),
    ('is_loopback', 'a loopback address'),
    ('is_link_local', 'a link-local address'),
    ('is_multicast', 'a multicast address'),
    ('is_reserved', 'a reserved address'),
    ('is_private', 'a private address'),
)


class AddressRefused(BadLocation):
    """A location's host is, or resolves to, an address the policy does not allow."""

    template = ('Location refused: host %(host)s %(reason)s, which is not globally '
                'routable; an operator may allow it in [store:%(store)s] '
                'allowed_hosts or allowed_networks')


def _number(part):
    if part[:2].lower() == '0x':
        return int(part[2:] or '0', 16)
    if len(part) > 1 and part[0] == '0':
        return int(part, 8)
    return int(part)


def parse_numeric_host(host):
    """Return the address a numeric host spelling stands for, or None for a name.

    IPv4 follows ``inet_aton``: one to four dot-separated parts, each decimal, octal
    (leading ``0``) or hex (``0x``), the last filling the remaining bytes. IPv6 is
    the bracket-less form ``urllib`` gives (``::1``, ``fe80::1%eth0``).

    :param host: a URL's host, without brackets.
    :returns: an :class:`ipaddress.IPv4Address` or :class:`ipaddress.IPv6Address`,
        or None when ``host`` is a name.
    :raises ValueError: for a host that looks numeric but is no valid address (a
        resolver might still look it up as a name, so it is never passed on).
    """
    if ':' in host:
        return ipaddress.IPv6Address(host)
    parts = host[:-1].split('.') if host.endswith('.') else host.split('.')
    if not all(_NUMBER.match(part) for part in parts):
        return None
    if len(parts) > 4:
        raise ValueError('more than four parts')
    values = [_number(part) for part in parts]
    if (any(value > 255 for value in values[:-1])
            or values[-1] > _LAST_PART_MAX[len(parts)]):
        raise ValueError('a part is out of range')
    value = values[-1]
    for position, part in enumerate(values[:-1]):
        value += part << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def refusal(address):
    """Say why an address is not globally routable.

    :param address: an :class:`ipaddress.IPv4Address` or :class:`ipaddress.IPv6Address`.
    :returns: a phrase such as ``'a loopback address'``, or None for a global address.
    """
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return 'an IPv4-mapped IPv6 address'
        if address in _IPV4_COMPATIBLE and not (address.is_loopback
                                                or address.is_unspecified):
            return 'an IPv4-compatible IPv6 address'
        for embedded, kind in ((address.sixtofour, '6to4'),
                               (address.teredo and address.teredo[1], 'Teredo'),
                               (ipaddress.IPv4Address(int(address) & 0xffffffff)
                                if address in _NAT64 else None, 'NAT64')):
            if embedded is not None and refusal(embedded):
                return 'a %s address embedding %s' % (kind, refusal(embedded))
    for attribute, reason in _CATEGORIES:
        if getattr(address, attribute):
            return reason
    if address.version == 4 and address in _SHARED:
        return 'a shared address (100.64.0.0/10)'
    if not address.is_global:
        return 'a special-purpose address'
    return None


class AddressPolicy:
    """Resolve hosts and refuse the ones that are not globally routable.

    :param store: the store name, for messages.
    :param allowed_hosts: host names allowed whatever they resolve to.
    :param allowed_networks: :class:`ipaddress` networks allowed although not global.
    """

    def __init__(self, store, allowed_hosts=(), allowed_networks=()):
        self.store = store
        self.allowed_hosts = frozenset(_host_key(host) for host in allowed_hosts)
        self.allowed_networks = tuple(allowed_networks)

    @classmethod
    def from_options(cls, store, opts):
        """Build the policy from a store section's ``allowed_*`` options.

        :param opts: a :class:`glance.common.config.Options`.
        :raises ConfigError: for a value of ``allowed_networks`` that is no network.
        """
        networks = []
        for value in opts.get_list('allowed_networks', ()):
            try:
                networks.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                raise exception.ConfigError('allowed_networks', 'store:%s' % store,
                                            '%r is not a CIDR network' % value) from None
        return cls(store, opts.get_list('allowed_hosts', ()), networks)

    def _allowed(self, address):
        return any(address.version == net.version and address in net
                   for net in self.allowed_networks)

    def resolve(self, host, port):
        """Resolve a host once and check every address it has.

        :param host: the URL's host (no brackets).
        :param port: the port, passed to the resolver.
        :returns: a list of the checked addresses, in the resolver's order.
        :raises AddressRefused: when any address is not globally routable and not
            allowed; no connection has been opened.
        :raises BadLocation: for a malformed numeric host.
        :raises StoreUnavailable: when the name does not resolve.
        """
        try:
            numeric = parse_numeric_host(host)
        except ValueError:
            raise BadLocation(reason='host %s is not a valid IP address' % host) from None
        addresses = [numeric] if numeric is not None else self._lookup(host, port)
        if _host_key(host) in self.allowed_hosts:
            return addresses
        for address in addresses:
            reason = refusal(address)
            if reason and not self._allowed(address):
                spelled = 'is' if numeric is not None else 'resolves to'
                raise AddressRefused(host=host, reason='%s %s' % (spelled, reason),
                                     store=self.store, path=host)
        return addresses

    def _lookup(self, host, port):
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise StoreUnavailable(store=self.store, path=host,
                                   reason='host %s does not resolve' % host) from None
        addresses = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = ipaddress.ip_address(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise StoreUnavailable(store=self.store, path=host,
                                   reason='host %s has no address' % host)
        return addresses


def _host_key(host):
    return host.lower().rstrip('.')


def connect(addresses, address, timeout=None, source_address=None):
    """Open a TCP connection to the first reachable of the checked addresses.

    Signature of :func:`socket.create_connection` after ``addresses``, so it can
    replace it in :mod:`http.client`; the host in ``address`` is ignored (only its
    port is used), which is what pins the connection to what was checked.

    :param addresses: the addresses :meth:`AddressPolicy.resolve` returned.
    :param address: ``(host, port)`` as http.client passes it.
    :returns: a connected socket.
    :raises OSError: the last connection error when none is reachable.
    """
    port = address[1]
    error = None
    for ip in addresses:
        try:
            # A numeric host: create_connection parses it, it does not look it up.
            return socket.create_connection((str(ip), port), timeout, source_address)
        except OSError as err:
            error = err
    raise error

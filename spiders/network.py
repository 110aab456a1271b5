"""Which hosts and addresses a crawl may reach: plain functions over strings, shared by the spider (early,
literal check of discovered URLs) and ``spiders.middlewares.PrivateNetworkGuard`` (resolved addresses of
every request, redirect hops included).
"""

from __future__ import annotations

import ipaddress

# Names that mean "this machine" without any lookup.
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def address_problem(address: str) -> str | None:
    """Why an IP address is not a public internet address, or None when it is.

    >>> address_problem("8.8.8.8") is None
    True
    >>> address_problem("::ffff:127.0.0.1")
    'loopback address 127.0.0.1'
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return f"not an IP address: {address!r}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 reaches 10.0.0.1
    kinds = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),  # 0.0.0.0 connects to this machine on Linux
        ("link-local", ip.is_link_local),  # includes the cloud metadata service 169.254.169.254
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("non-global", not ip.is_global),  # shared address space 100.64/10, documentation ranges, …
    )
    for kind, hit in kinds:
        if hit:
            return f"{kind} address {ip}"
    return None


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def literal_host_problem(host: str) -> str | None:
    """Why a URL host is local without resolving it (an IP literal or a local name), or None.

    Names that need a lookup to tell (``vm``, ``2130706433``, ``127.1``) return None here: the guard
    middleware resolves them.
    """
    host = host.lower().rstrip(".")
    if not host:
        return "no host"
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return f"local host name {host!r}"
    if is_ip_literal(host):
        return address_problem(host)
    return None

from __future__ import annotations

import pytest

from spiders.network import address_problem, literal_host_problem

ADDRESSES = [
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("0.0.0.0", "unspecified"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("100.64.0.1", "non-global"),
    ("240.0.0.1", ""),  # "private" or "reserved", by Python version: refused either way
    ("not-an-ip", "not an IP address"),
]


@pytest.mark.parametrize(("address", "kind"), ADDRESSES)
def test_address_problem(address: str, kind: str | None) -> None:
    problem = address_problem(address)
    if kind is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(kind)


HOSTS = [
    ("example.org", None),
    ("93.184.216.34", None),
    ("localhost", "local host name"),
    ("LOCALHOST.", "local host name"),
    ("api.localhost", "local host name"),
    ("127.0.0.1", "loopback"),
    ("[::1]", "loopback"),
    ("", "no host"),
    # Only resolving tells: left to the guard middleware.
    ("vm", None),
    ("2130706433", None),
    ("127.1", None),
]


@pytest.mark.parametrize(("host", "kind"), HOSTS)
def test_literal_host_problem(host: str, kind: str | None) -> None:
    problem = literal_host_problem(host)
    if kind is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(kind)

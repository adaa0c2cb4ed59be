"""Lists of hosts and networks read from settings: the private-host allow-list and trusted proxies.

Pure parsing and matching (no I/O), shared by the settings' validation, the
outbound SSRF guard (`etl/connectors/http.py`) and the client-address rules
(`services/security.py`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def unmapped(address: IPAddress) -> IPAddress:
    """::ffff:10.0.0.1 -> 10.0.0.1, so the allow-list and the checks see one form."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class PrivateHostAllowList:
    """Private addresses a tenant-supplied URL may reach anyway (setting ALLOWED_PRIVATE_HOSTS).

    Comma-separated entries: `host:port` (an IP address or a host name, IPv6 in
    brackets: `[::1]:5432`) allows that one port, a CIDR network (`10.20.0.0/16`)
    or a single IP address allows every port there. Cloud metadata addresses
    are refused whatever the list says.
    """

    networks: tuple[IPNetwork, ...] = ()
    endpoints: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> PrivateHostAllowList:
        """Read the setting's text; raise ValueError naming a bad entry."""
        networks: list[IPNetwork] = []
        endpoints: set[tuple[str, int]] = set()
        for entry in (part.strip() for part in (text or "").split(",")):
            if not entry:
                continue
            if "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ValueError(f"ALLOWED_PRIVATE_HOSTS: {entry!r} is not a CIDR network") from None
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]")))
                continue
            except ValueError:
                pass
            host, port = _split_host_port(entry)
            endpoints.add((host, port))
        return cls(tuple(networks), frozenset(endpoints))

    def allows(self, host: str, address: IPAddress, port: int) -> bool:
        """True when `address` (reached as `host:port`) is on the list."""
        address = unmapped(address)
        if any(address.version == net.version and address in net for net in self.networks):
            return True
        return (host.lower().strip("[]"), port) in self.endpoints or (str(address), port) in self.endpoints

    def __bool__(self) -> bool:
        return bool(self.networks or self.endpoints)


def _split_host_port(entry: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (normalised host, port); ValueError otherwise."""
    problem = ValueError(
        f"ALLOWED_PRIVATE_HOSTS: {entry!r} is neither host:port (e.g. 127.0.0.1:8900, [::1]:5432, "
        "jira.internal:443) nor a CIDR network (e.g. 10.20.0.0/16)"
    )
    if entry.startswith("["):
        host, sep, port_text = entry[1:].partition("]:")
    else:
        host, sep, port_text = entry.rpartition(":")
        if ":" in host:
            raise problem  # an IPv6 address needs brackets before its port
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise problem
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        host = host.lower()
    return host, int(port_text)


def parse_host_allow_list(text: str | None) -> PrivateHostAllowList:
    """ALLOWED_PRIVATE_HOSTS as an allow-list; ValueError naming a bad entry."""
    return PrivateHostAllowList.parse(text)


def parse_networks(text: str | None, setting: str) -> tuple[IPNetwork, ...]:
    """Comma-separated IP addresses or CIDR networks; ValueError naming a bad entry and the setting."""
    networks: list[IPNetwork] = []
    for entry in (part.strip() for part in (text or "").split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{setting}: {entry!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def in_networks(address_text: str | None, networks: tuple[IPNetwork, ...]) -> bool:
    """True when the address (text, possibly IPv4-mapped IPv6) lies in one of the networks."""
    if not address_text or not networks:
        return False
    try:
        address = unmapped(ipaddress.ip_address(address_text.strip().strip("[]")))
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in networks)

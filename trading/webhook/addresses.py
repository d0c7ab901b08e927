"""Who sent a webhook request: the client address behind trusted proxies, and the network limits count.

- ``client_ip(request)``: REMOTE_ADDR, or behind a proxy of ``WEBHOOK_TRUSTED_PROXIES`` the
  right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy. django-axes uses it too
  (``AXES_CLIENT_IP_CALLABLE``), so the login lockout counts the same client the webhook does.
- ``source_network(ip)``: the client as rate limits and the unknown-user tally count it.
- ``source_allowed(ip)``: the ``WEBHOOK_ALLOWED_IPS`` allowlist (empty: everyone).

Addresses are read as ``1.2.3.4``, ``1.2.3.4:443``, ``2001:db8::1`` or ``[2001:db8::1]:443``; an
IPv4-mapped IPv6 address is its IPv4 address.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

# Rate limits and the tally of unknown-user rejections count an IPv6 client by its /64: one
# subscriber usually holds a whole /64 (RFC 6177), so counting single addresses would give one
# machine 2**64 allowances.
IPV6_CLIENT_PREFIX = 64


@lru_cache(maxsize=16)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def _ip(text: str):
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:443
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.ipv4_mapped or address if address.version == 6 else address


def _in(address, networks) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def source_network(ip: str | None) -> str:
    """The client as rate limits count it: an IPv4 address, or the /64 of an IPv6 one."""
    address = _ip(ip or "")
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def source_allowed(ip: str | None) -> bool:
    """Whether ``ip`` may send alerts: in ``WEBHOOK_ALLOWED_IPS``, or that list is empty."""
    allowed = _networks(tuple(settings.WEBHOOK_ALLOWED_IPS))
    if not allowed:
        return True
    address = _ip(ip or "")
    return address is not None and _in(address, allowed)


def client_ip(request) -> str | None:
    """The address that sent the request: REMOTE_ADDR, or behind a trusted proxy the right-most
    X-Forwarded-For entry that is not itself a trusted proxy (entries left of it are client-chosen).
    """
    address = _ip(request.META.get("REMOTE_ADDR", ""))
    proxies = _networks(tuple(settings.WEBHOOK_TRUSTED_PROXIES))
    if address is None or not proxies or not _in(address, proxies):
        return str(address) if address else None
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        hop_address = _ip(hop)
        if hop_address is None:
            break  # a malformed entry ends the chain we can trust: keep the last good hop
        address = hop_address
        if not _in(address, proxies):
            break
    return str(address)

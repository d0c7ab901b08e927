"""Can TradingView call this webhook URL? Pure: the URL in, what stops TradingView (with the fix) out.

TradingView sends webhooks only to public addresses, on port 443 for ``https`` or 80 for ``http``
(no other ports), and a trader's alerts carry their secret, so plain ``http`` exposes it on the way.
"""

import ipaddress
from urllib.parse import urlsplit

FIX = (
    "set PUBLIC_BASE_URL to the public https address your reverse proxy answers on "
    "(docs/deployment.md: nginx with TLS in front of the engine)"
)


def webhook_url_problems(url: str) -> list[str]:
    """Why TradingView cannot (or should not) call ``url``, each with what to do; empty when it can."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    problems = []
    if host in ("localhost", "") or host.endswith(".localhost"):
        problems.append(f"{host or 'This URL'} is this machine only: TradingView cannot reach it; {FIX}.")
    else:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and address.is_loopback:
            problems.append(f"{host} is this machine only: TradingView cannot reach it; {FIX}.")
        elif address is not None and (address.is_private or address.is_link_local or address.is_reserved):
            problems.append(f"{host} is a private address: TradingView, on the internet, cannot reach it; {FIX}.")
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    if default_port is None:
        problems.append(f"{parts.scheme or 'No'} scheme: TradingView calls https (or http) URLs only; {FIX}.")
    elif parts.port not in (None, default_port):
        problems.append(f"Port {parts.port}: TradingView calls only port 443 (https) or 80 (http); {FIX}.")
    if parts.scheme == "http":
        problems.append(f"Plain http sends your webhook secret unencrypted with every alert; {FIX}.")
    return problems

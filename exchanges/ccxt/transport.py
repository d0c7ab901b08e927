"""The ccxt client itself: how it is built (live or testnet, keys, our defaults) and the hook that puts
every HTTP request through the account's shared rate budget (``exchanges.rate_budget``).

The hook sits at ccxt's ``fetch`` — the single method every HTTP request goes through — plus
``throttle`` (to learn ccxt's cost for the request) and ``on_rest_response`` (to see status and
headers of every answer, including errors, before ccxt raises).
"""

import functools

import ccxt

from exchanges.connector import PermanentError
from exchanges.rate_budget import FALLBACK_BLOCK_SECONDS, RateBudget, retry_after_seconds

MODES = ("live", "testnet")
MARKET_TYPES = ("spot", "swap")

# A swap account: the ccxt class and options that make ccxt load linear perpetuals and send its requests
# to the derivatives endpoints. Binance's USDⓈ-M futures are a ccxt class of their own (fapi); Bybit and
# OKX serve both from one class, told the default type. Any other exchange: ccxt's defaultType only.
SWAP_CCXT = {
    "binance": ("binanceusdm", {}),  # its defaults: linear markets only, defaultType swap
    "bybit": ("bybit", {"defaultType": "swap", "defaultSubType": "linear", "fetchMarkets": {"types": ["linear"]}}),
    "okx": ("okx", {"defaultType": "swap", "fetchMarkets": {"types": ["swap"]}}),
}


def ccxt_class_and_options(exchange_id: str, market_type: str) -> tuple[str, dict]:
    """The ccxt exchange id and the extra ccxt options for an account of ``market_type``."""
    if market_type not in MARKET_TYPES:
        raise PermanentError(f"Unsupported market type {market_type!r}: an account trades one of {MARKET_TYPES}.")
    if market_type == "spot":
        return exchange_id, {}
    return SWAP_CCXT.get(exchange_id, (exchange_id, {"defaultType": "swap"}))


DEFAULT_CCXT_CONFIG = {
    "enableRateLimit": True,
    # Currency metadata is a private, heavy call on Binance and Bybit and no order needs it.
    "has": {"fetchCurrencies": False},
    # Binance: with keys, loading markets also downloads the margin pair lists (two more
    # requests); the engine trades spot and perpetuals only.
    "options": {"fetchMargins": False},
}


class _SharedBudgetTransport:
    """Mixed in front of a ccxt exchange class so every HTTP request goes through the shared budget.

    ccxt calls ``throttle(cost)`` then ``fetch(url, …)`` for every REST request, and
    ``on_rest_response`` for every answer (2xx or not) before its error handling raises.
    """

    rate_budget: RateBudget | None = None
    budget_last_status: int | None = None
    budget_last_headers = None
    _budget_request_cost: float | None = None

    def throttle(self, cost=None):
        # Remember ccxt's cost for this endpoint so the shared bucket counts in the same units.
        self._budget_request_cost = 1 if cost is None else cost
        return super().throttle(cost)

    def fetch(self, url, method="GET", headers=None, body=None):
        cost, self._budget_request_cost = self._budget_request_cost, None
        if self.rate_budget is not None:
            self.rate_budget.acquire(1 if cost is None else cost)
        self.budget_last_status, self.budget_last_headers = None, None
        return super().fetch(url, method, headers, body)

    def on_rest_response(
        self, code, reason, url, method, response_headers, response_body, request_headers, request_body
    ):
        self.budget_last_status, self.budget_last_headers = code, response_headers
        if code in (418, 429) and self.rate_budget is not None:
            # Tell every process sharing this account, not only the one that got the answer.
            self.rate_budget.block(retry_after_seconds(response_headers) or FALLBACK_BLOCK_SECONDS)
        return super().on_rest_response(
            code, reason, url, method, response_headers, response_body, request_headers, request_body
        )


@functools.cache
def with_shared_budget(exchange_class: type) -> type:
    return type(f"{exchange_class.__name__}_shared_budget", (_SharedBudgetTransport, exchange_class), {})


def has_testnet(client) -> bool:
    """Whether ccxt knows a sandbox (testnet) for this exchange instance."""
    return bool(client.urls.get("test"))


def no_testnet_message(exchange_id: str) -> str:
    return f"{exchange_id} has no testnet in ccxt: use live or paper mode."


def ccxt_client(
    exchange_id: str,
    *,
    mode: str,
    api_key: str,
    api_secret: str,
    password: str,
    ccxt_options: dict | None,
    market_type: str = "spot",
) -> ccxt.Exchange:
    """A ccxt client for ``exchange_id`` in ``mode`` trading ``market_type`` (spot, or linear swaps), its
    requests going through the shared budget hook (the budget itself is attached by the connector)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r} (paper accounts use PaperConnector)")
    ccxt_id, type_options = ccxt_class_and_options(exchange_id, market_type)
    exchange_class = getattr(ccxt, ccxt_id, None)
    if not (isinstance(exchange_class, type) and issubclass(exchange_class, ccxt.Exchange)):
        raise PermanentError(f"Unknown exchange {exchange_id!r}: ccxt has no exchange with that id.")
    config = ccxt.Exchange.deep_extend(
        DEFAULT_CCXT_CONFIG,
        {"apiKey": api_key, "secret": api_secret, "password": password},
        {"options": type_options} if type_options else {},
        ccxt_options or {},
    )
    config["enableRateLimit"] = True  # the shared budget sits on top of ccxt's limiter, not instead of it
    client = with_shared_budget(exchange_class)(config)
    if mode == "testnet":
        # Exchanges without a sandbox URL either raise NotSupported or, when the URL is present
        # but empty (kraken), fail inside ccxt with a TypeError: ask first.
        if not has_testnet(client):
            raise PermanentError(no_testnet_message(exchange_id))
        try:
            client.set_sandbox_mode(True)
        except ccxt.NotSupported as exc:
            raise PermanentError(no_testnet_message(exchange_id), exchange_message=str(exc)) from exc
    return client

"""A new swap group's leverage is the configured one capped by the exchange's leverage tier for the grid's full
notional (every leg filled, at its price), through the engine's real services on a paper swap account: what
reached the exchange (the leverage request, the position's leverage), what the group keeps, and what the trader
reads. Tiers the exchange does not give leave the configured leverage, said. The DCA preview uses the tiers the
trader's swap account was given."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from exchanges.connector import RetryableError
from exchanges.models import ExchangeAccount, PaperLeverage
from exchanges.paper.connector import PaperConnector
from exchanges.paper.services import paper_price_set
from exchanges.services.derivatives import leverage_tiers
from exchanges.tiers import margin_tiers
from tests.api_client import client_for
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from tests.signals import stored_signal
from trading.models import PositionGroup, RiskConfig
from trading.selectors import risk_config_of
from trading.services.routing import signal_route

pytestmark = pytest.mark.django_db
D = Decimal
SOL = "SOL/USDT:USDT"  # shipped paper perpetual: 1 SOL a contract
THREE_LEGS = [
    {"gap_percent": "0", "weight_percent": "33.34", "tp_percent": "2"},
    {"gap_percent": "-2", "weight_percent": "33.33", "tp_percent": "2"},
    {"gap_percent": "-4", "weight_percent": "33.33", "tp_percent": "2"},
]
# An altcoin-like table: 20x to 2,000 USDT of notional, 10x to 5,000, then 5x.
STEEP = margin_tiers((0, 20, "0.01"), (2_000, 10, "0.02"), (5_000, 5, "0.05"))


@pytest.fixture(autouse=True)
def no_cached_tiers():
    cache.clear()
    yield
    cache.clear()


def trader(*, capital: str, leverage: int):
    """A paper swap account on binance and a long SOL configuration of ``capital`` over legs 0, 2 and 4 % below."""
    user = UserFactory()
    account = ExchangeAccountFactory(user=user, market_type="swap", starting_balance=D("1000000"))
    PaperConnector(account).load_markets()
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("100"))
    DCAConfigurationFactory(
        user=user, pair="SOL/USDT", levels=THREE_LEGS, capital_usd=D(capital), leverage=leverage, margin_mode="isolated"
    )
    RiskConfig.objects.filter(pk=risk_config_of(user).pk).update(max_total_exposure_usd=D("1000000"))
    return user


@pytest.fixture
def leverage_requests(monkeypatch):
    """The leverages the paper exchange was asked to set, as it received them."""
    seen: list[int] = []
    set_leverage = PaperConnector.set_leverage

    def leverage(self, symbol, value, **kwargs):
        seen.append(value)
        return set_leverage(self, symbol, value, **kwargs)

    monkeypatch.setattr(PaperConnector, "set_leverage", leverage)
    return seen


def exchange_tiers(monkeypatch, tiers) -> list[str]:
    """The paper exchange answers ``tiers`` (or raises it); the symbols it was asked for."""
    asked: list[str] = []

    def fetch(self, symbol):
        asked.append(symbol)
        if isinstance(tiers, Exception):
            raise tiers
        return list(tiers)

    monkeypatch.setattr(PaperConnector, "fetch_leverage_tiers", fetch)
    return asked


def long(route, user):
    return route(user=user, symbol="SOLUSDT.P", side="buy", entry_price="100")


def exit_long(route, user):
    return route(
        user=user,
        symbol="SOLUSDT.P",
        intent="exit",
        side="long",
        market_position="flat",
        prev_market_position="long",
        entry_price="100",
    )


def leverage_on_exchange(user) -> int:
    return PaperLeverage.objects.get(account=ExchangeAccount.objects.get(user=user), symbol=SOL).leverage


def test_a_grid_beyond_the_first_tier_trades_at_the_tiers_lower_leverage(route, leverage_requests):
    # 60,000 USD over three legs: 200 SOL at 100, 204 at 98, 208 at 96 = 59,960 USDT, past Binance BTCUSDT's
    # first tier (125x to 50,000; the paper exchange's table): 100x allowed.
    user = trader(capital="60000", leverage=125)
    paper_price_set(exchange_id="binance", symbol=SOL, price=D("100.5"))  # nothing fills on arrival

    signal = long(route, user)

    assert signal.status == "opened", signal.reason
    assert leverage_requests == [100] and leverage_on_exchange(user) == 100
    assert "Leverage 100× instead of the configured 125×: the exchange allows at most 100× for the grid's full " in (
        signal.reason
    )
    assert "notional of 59960 USDT." in signal.reason
    group = PositionGroup.objects.get()
    snapshot = group.config_snapshot
    assert (snapshot["leverage"], snapshot["configured_leverage"]) == (100, 125)
    assert group.status == "live" and "leverage 100× instead of the configured 125×" in group.status_reason


def test_a_grid_within_the_first_tier_keeps_the_configured_leverage(route, leverage_requests):
    user = trader(capital="3000", leverage=20)

    signal = long(route, user)

    assert signal.status == "opened", signal.reason
    assert leverage_requests == [20] and leverage_on_exchange(user) == 20
    assert "Leverage" not in signal.reason
    snapshot = PositionGroup.objects.get().config_snapshot
    assert (snapshot["leverage"], snapshot["configured_leverage"], snapshot["leverage_note"]) == (20, 20, "")


def test_the_exchanges_own_tiers_cap_the_leverage_and_are_asked_once(route, leverage_requests, monkeypatch):
    asked = exchange_tiers(monkeypatch, STEEP)
    user = trader(capital="3000", leverage=20)  # about 3,000 USDT: the steep table's second tier, 10x

    first = long(route, user)
    assert first.status == "opened", first.reason
    assert exit_long(route, user).status == "exited"
    again = long(route, user)

    assert again.status == "opened", again.reason
    # Each new group on the flat symbol sets its (capped) leverage again: "last set" is only the engine's memory.
    assert leverage_requests == [10, 10] and leverage_on_exchange(user) == 10
    assert "Leverage 10× instead of the configured 20×" in first.reason
    assert asked == [SOL]  # the tiers are cached per account and symbol


def test_tiers_the_exchange_does_not_give_leave_the_configured_leverage_and_say_so(
    route, leverage_requests, monkeypatch
):
    exchange_tiers(monkeypatch, RetryableError("binance is overloaded"))
    user = trader(capital="60000", leverage=125)

    signal = long(route, user)

    assert signal.status == "opened", signal.reason  # the trade still happens, at the configured leverage
    assert leverage_requests == [125] and leverage_on_exchange(user) == 125
    assert (
        "Leverage 125× as configured, not checked against the exchange's leverage tiers (binance is overloaded)."
        in signal.reason
    )
    snapshot = PositionGroup.objects.get().config_snapshot
    assert (snapshot["leverage"], snapshot["configured_leverage"]) == (125, 125)


def test_a_leverage_change_to_the_capped_value_is_refused_while_the_symbol_is_busy(route, monkeypatch):
    # The steep table caps a 3,000 USDT grid at 10x; the symbol was last set to 20x and has the account's open
    # orders (another timeframe's group): the change is refused before anything is placed.
    exchange_tiers(monkeypatch, STEEP)
    user = trader(capital="1000", leverage=20)  # 1,000 USDT: the first tier, 20x
    assert long(route, user).status == "opened"
    DCAConfigurationFactory(
        user=user, pair="SOL/USDT", timeframe=60, levels=THREE_LEGS, capital_usd=D("3000"), leverage=20
    )

    signal = route(user=user, symbol="SOLUSDT.P", side="buy", entry_price="100", timeframe="60")

    assert signal.status == "rejected"
    assert "trades 10x (its 20x capped by the exchange's tier) isolated but SOL/USDT:USDT is set to 20x" in (
        signal.reason
    )
    assert PositionGroup.objects.count() == 1


def test_two_groups_of_one_configured_leverage_capped_differently_cannot_share_the_symbol(
    monkeypatch, eager_celery, leverage_requests, django_capture_on_commit_callbacks
):
    # Both configurations ask 20x; the steep table caps the second's 3,000 USDT grid at 10x. Both alerts are routed
    # before the first grid reaches the exchange (nothing there says the symbol is busy): the database does.
    exchange_tiers(monkeypatch, STEEP)
    user = trader(capital="1000", leverage=20)
    DCAConfigurationFactory(
        user=user, pair="SOL/USDT", timeframe=60, levels=THREE_LEGS, capital_usd=D("3000"), leverage=20
    )
    first = stored_signal(user, symbol="SOLUSDT.P", side="buy", entry_price="100")
    second = stored_signal(user, symbol="SOLUSDT.P", side="buy", entry_price="100", timeframe="60")
    with django_capture_on_commit_callbacks(execute=False) as after_first:
        signal_route(signal_id=first.pk)
    with django_capture_on_commit_callbacks(execute=False) as after_second:
        signal_route(signal_id=second.pk)
    for callback in after_first + after_second:
        callback()

    first.refresh_from_db(), second.refresh_from_db()
    assert first.status == "opened", first.reason
    assert second.status == "rejected"
    assert "trades 10x isolated (its 20x capped by the exchange's tier) but the long SOL/USDT:USDT 15m" in (
        second.reason
    )
    assert "trades 20x isolated" in second.reason and "Nothing was placed" in second.reason
    assert leverage_requests == [20] and leverage_on_exchange(user) == 20
    assert PositionGroup.objects.count() == 1


# --- The DCA preview -----------------------------------------------------------------------------------------

WIDE = [
    {"gap_percent": "0", "weight_percent": "50", "tp_percent": "2"},
    {"gap_percent": "-10", "weight_percent": "50", "tp_percent": "2"},
]


def test_the_preview_uses_the_tiers_the_traders_swap_account_was_given():
    user = UserFactory(username="previewer")
    account = ExchangeAccountFactory(user=user, market_type="swap", label="perps")
    PaperConnector(account).load_markets()
    config = DCAConfigurationFactory(user=user, pair="SOL/USDT", levels=WIDE, capital_usd=3000, leverage=20)
    api = client_for(user)
    url = f"/api/v1/dca-configs/{config.pk}/preview/"

    default = api.get(url, {"entry_price": "100", "side": "long"}).json()

    class Steep(PaperConnector):
        def fetch_leverage_tiers(self, symbol):
            return list(STEEP)

    tiers, _ = leverage_tiers(account, SOL, Steep(account))  # what routing reads and caches
    assert tiers == STEEP
    body = api.get(url, {"entry_price": "100", "side": "long"}).json()

    assert (default["leverage"], default["configured_leverage"]) == (20, 20)
    assert default["tiers_source"].startswith("Binance USDⓈ-M BTCUSDT's")
    # 3,000 USDT of notional: the account's table allows 10x, at a 2 % maintenance rate and 20 USDT amount.
    assert (body["leverage"], body["configured_leverage"]) == (10, 20)
    assert body["tiers_source"] == "“perps” (binance swap)'s leverage tiers for SOL/USDT, as the exchange gave them"
    assert body["margin"] == "300.000000000000"
    # Q = 15 + 16.666… = 31.666…, A = 3,000 / Q = 94.736…, M = 300, r 0.02, c 20 (tier 2):
    # P = (3,000 − 300 − 20) / (Q × 0.98) = 86.358…
    assert body["liquidation_price"].startswith("86.35")


def test_the_form_preview_shows_the_capped_leverage_and_the_accounts_tiers(client):
    from django.urls import reverse

    from tests.trading.test_dca_preview import _form

    user = UserFactory(username="former")
    account = ExchangeAccountFactory(user=user, market_type="swap", label="perps")

    class Steep(PaperConnector):
        def fetch_leverage_tiers(self, symbol):
            return list(STEEP)

    leverage_tiers(account, "BTC/USDT:USDT", Steep(account))
    client.force_login(user)

    html = client.post(
        reverse("dca-config-preview"), _form(capital_usd="3000"), HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "10× isolated (configured 20×: the tier of this grid's notional allows 10×)" in html
    assert "Liquidation estimated with “perps” (binance swap)&#x27;s leverage tiers for BTC/USDT" in html

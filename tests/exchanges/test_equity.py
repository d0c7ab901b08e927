"""What an account's balance is worth in USD (pure, no database)."""

from decimal import Decimal

from exchanges.equity import Holding, account_equity, usd_price_symbol

D = Decimal


def test_equity_is_the_stablecoins_plus_every_other_asset_at_its_usdt_price():
    equity = account_equity(
        free={"USDT": D("9000"), "BTC": D("0.1"), "ETH": D("0")},
        used={"USDT": D("1000"), "BTC": D("0.05"), "ETH": D("2")},
        usd_prices={"BTC": D("60000"), "ETH": D("3000")},
    )

    # 10,000 USDT (a tenth reserved by resting buys) + 0.15 BTC × 60,000 + 2 ETH (in a sell) × 3,000
    assert equity.equity_usd == D("25000")
    assert [(h.asset, h.total, h.usd_value) for h in equity.holdings] == [
        ("USDT", D("10000"), D("10000")),
        ("BTC", D("0.15"), D("9000.00")),
        ("ETH", D("2"), D("6000")),
    ]
    assert equity.unpriced == []


def test_an_asset_without_a_usd_price_is_listed_but_not_counted():
    equity = account_equity(free={"USDC": D("50"), "XYZ": D("7"), "BNB": D("1")}, used={}, usd_prices={"BNB": D("600")})

    assert equity.equity_usd == D("650")  # USDC one for one, BNB at its price, XYZ left out
    assert equity.unpriced == ["XYZ"]
    assert equity.holdings[-1] == Holding("XYZ", D("7"), D("0"), None, None)


def test_nothing_held_is_an_empty_account_worth_zero():
    equity = account_equity(free={"USDT": D("0")}, used={}, usd_prices={})

    assert (equity.holdings, equity.equity_usd, equity.unpriced) == ([], D("0"), [])


def test_holdings_keep_their_exact_figures_through_json():
    holding = Holding("BTC", D("0.123456789012"), D("0.000000000001"), D("60123.45"), D("7422.7"))

    assert Holding.from_json(holding.as_json()) == holding
    assert Holding.from_json(Holding("XYZ", D("1"), D("0"), None, None).as_json()).usd_value is None


def test_a_stablecoin_needs_no_price_and_anything_else_its_usdt_market():
    assert usd_price_symbol("USDT") is None and usd_price_symbol("FDUSD") is None
    assert usd_price_symbol("BTC") == "BTC/USDT"

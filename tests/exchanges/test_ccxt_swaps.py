"""CcxtConnector on swap accounts, against ccxt's own binanceusdm, bybit (linear) and okx (swap) classes.

As in test_ccxt_connector: a loopback HTTP server answers like the exchange (tests/exchanges/recorded/),
ccxt signs, encodes and parses exactly as against the real one, and the tests read what reached the
"exchange" (reduceOnly, positionSide, positionIdx, posSide, tdMode, leverage and margin-mode requests,
contract counts) and what the trader gets back (base-asset quantities, positions, modes).
"""

from decimal import Decimal

import pytest
from django.core.cache import cache

from exchanges.ccxt.connector import CcxtConnector
from exchanges.ccxt.markets import forget_process_markets, markets_cache_key
from exchanges.connector import BadSymbol, InvalidOrder, Market, PermanentError, RetryableError
from tests.exchanges.test_ccxt_connector import (  # noqa: F401 - loopback_only is an autouse fixture
    FakeExchange,
    Reply,
    Request,
    account_key,
    all_urls_are_loopback,
    bybit,
    exchange,
    loopback_only,
    loopback_urls,
    recorded,
)

SHORT_LEG = {"symbol": "BTC/USDT:USDT", "side": "sell", "type": "limit", "price": Decimal("65000")}


@pytest.fixture(autouse=True)
def fresh_markets():
    def clear():
        forget_process_markets()
        for exchange_id in ("binance", "bybit", "okx"):
            for market_type in ("spot", "swap"):
                cache.delete(markets_cache_key(exchange_id, "live", market_type))

    clear()
    yield
    clear()


def swap_connector(server: FakeExchange, account_key: str, exchange_id: str, ccxt_id: str) -> CcxtConnector:
    connector = CcxtConnector(
        exchange_id,
        api_key="test-key",
        api_secret="test-secret",
        password="test-passphrase",
        account_key=account_key,
        market_type="swap",
        ccxt_options={"urls": loopback_urls(ccxt_id, server.url), "timeout": 2000},
    )
    assert all_urls_are_loopback(connector.client)
    return connector


@pytest.fixture
def binance_swap(exchange, account_key):
    exchange.route("GET", "/fapi/v1/exchangeInfo", Reply(recorded("binanceusdm_exchange_info.json")))
    return swap_connector(exchange, account_key, "binance", "binanceusdm")


@pytest.fixture
def bybit_swap(bybit, exchange, account_key):  # bybit: its routes (instruments, account info) on the server
    return swap_connector(exchange, account_key, "bybit", "bybit")


@pytest.fixture
def okx_swap(exchange, account_key):
    def instruments(request: Request) -> Reply:
        assert request.params["instType"] == "SWAP"  # a swap account loads swaps only
        return Reply(recorded("okx_instruments_swap.json"))

    exchange.route("GET", "/api/v5/public/instruments", instruments)
    return swap_connector(exchange, account_key, "okx", "okx")


# GET /fapi/v1/leverageBracket for BTCUSDT, hand-written from Binance's documentation (ccxt records no answer).
BINANCE_BRACKETS = [
    {
        "symbol": "BTCUSDT",
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": 1,
                "initialLeverage": 125,
                "notionalCap": 50000,
                "notionalFloor": 0,
                "maintMarginRatio": 0.004,
                "cum": 0.0,
            },
            {
                "bracket": 2,
                "initialLeverage": 100,
                "notionalCap": 500000,
                "notionalFloor": 50000,
                "maintMarginRatio": 0.005,
                "cum": 50.0,
            },
            {
                "bracket": 3,
                "initialLeverage": 50,
                "notionalCap": 8000000,
                "notionalFloor": 500000,
                "maintMarginRatio": 0.01,
                "cum": 2550.0,
            },
        ],
    }
]


def echo_binance_futures_order(request: Request) -> Reply:
    order = recorded("binanceusdm_order_new.json")
    order.update(
        clientOrderId=request.params["newClientOrderId"],
        side=request.params["side"],
        origQty=request.params["quantity"],
        price=request.params.get("price", "0"),
        positionSide=request.params.get("positionSide", "BOTH"),
        reduceOnly=request.params.get("reduceOnly") == "true",
    )
    return Reply(order)


def echo_okx_order(request: Request) -> Reply:
    answer = recorded("okx_order_create.json")
    answer["data"][0]["clOrdId"] = request.params["clOrdId"]
    return Reply(answer)


# --- Markets: contract sizes, base units, linear only ------------------------------------------------


def test_okx_swap_market_counts_the_base_asset_and_refuses_inverse(okx_swap):
    markets = okx_swap.load_markets()

    btc = markets["BTC/USDT:USDT"]
    assert (btc.type, btc.contract_size) == ("swap", Decimal("0.01"))
    # One contract of 0.01 BTC is both the step and the minimum, in BTC.
    assert (btc.step_size, btc.min_qty, btc.tick_size) == (Decimal("0.01"), Decimal("0.01"), Decimal("0.1"))
    assert okx_swap.resolve_symbol("OKX:BTCUSDT.P") == "BTC/USDT:USDT"
    assert okx_swap.resolve_symbol("BTCUSDT") == "BTC/USDT:USDT"  # a swap account resolves to its swaps
    # OKX lists BTC-USD-SWAP (settled in BTC) too: the trader is told why it is not traded, not "unknown".
    refusal = r"is an inverse \(coin-margined\) perpetual \(BTC/USD:BTC, settled in BTC\): inverse perpetuals are "
    with pytest.raises(BadSymbol, match=refusal + r"not supported; use the USDT-margined one \(BTCUSDT\.P\)"):
        okx_swap.resolve_symbol("OKX:BTCUSD.P")
    with pytest.raises(BadSymbol, match=refusal):
        okx_swap.resolve_symbol("BTCUSD")  # a plain ticker on a swap account names the same perpetual
    with pytest.raises(BadSymbol, match=refusal):
        okx_swap.market("BTC/USD:BTC")


def test_binance_swap_account_loads_usdm_perpetuals(binance_swap, exchange):
    btc = binance_swap.market("BTC/USDT:USDT")

    assert (btc.market_id, btc.contract_size, btc.step_size, btc.min_notional) == (
        "BTCUSDT",
        Decimal("1"),
        Decimal("0.001"),
        Decimal("100"),
    )
    assert binance_swap.resolve_symbol("BINANCE:BTCUSDT.P") == "BTC/USDT:USDT"
    assert [r.path for r in exchange.requests] == ["/fapi/v1/exchangeInfo"]  # never spot's /api/v3


def test_bybit_swap_account_loads_linear_only(bybit_swap, exchange):
    markets = bybit_swap.load_markets()

    assert set(markets) == {"BTC/USDT:USDT", "LTC/USDT:USDT"}
    assert {r.params["category"] for r in exchange.sent("GET", "/v5/market/instruments-info")} == {"linear"}


def test_markets_cached_before_contract_sizes_read_as_one():
    old = {
        "symbol": "BTC/USDT",
        "market_id": "BTCUSDT",
        "base": "BTC",
        "quote": "USDT",
        "tick_size": "0.01",
        "step_size": "0.00001",
    }
    assert Market.from_json(old).contract_size == Decimal(1)
    assert Market.from_json(Market.from_json(old).as_json()) == Market.from_json(old)


# --- Orders: contracts, reduce-only, hedge legs, margin mode ------------------------------------------


def test_okx_leg_goes_out_in_contracts_and_comes_back_in_btc(okx_swap, exchange):
    exchange.route("POST", "/api/v5/trade/batch-orders", echo_okx_order)

    order = okx_swap.create_order(
        **SHORT_LEG, amount=Decimal("0.05"), client_order_id="dce31a0", margin_mode="isolated"
    )

    [sent] = exchange.sent("POST", "/api/v5/trade/batch-orders")
    assert (sent.params["instId"], sent.params["sz"], sent.params["px"]) == ("BTC-USDT-SWAP", "5", "65000")
    assert (sent.params["side"], sent.params["tdMode"]) == ("sell", "isolated")
    assert "posSide" not in sent.params and "reduceOnly" not in sent.params
    assert order.amount == Decimal("0.05") and order.status == "open" and order.id == "2896576259728695296"


def test_okx_leg_below_one_contract_is_refused_before_sending(okx_swap, exchange):
    with pytest.raises(InvalidOrder, match=r"0.005 BTC on BTC/USDT:USDT is less than one contract step: 0.01 BTC"):
        okx_swap.create_order(**SHORT_LEG, amount=Decimal("0.005"), client_order_id="dce31a0", margin_mode="cross")
    assert exchange.sent("POST", "/api/v5/trade/batch-orders") == []


def test_okx_order_needs_a_margin_mode(okx_swap, exchange):
    with pytest.raises(InvalidOrder, match="needs a margin mode"):
        okx_swap.create_order(**SHORT_LEG, amount=Decimal("0.05"), client_order_id="dce31a0")
    assert exchange.sent("POST", "/api/v5/trade/batch-orders") == []


def test_okx_hedge_close_names_the_leg_and_sends_no_reduce_only(okx_swap, exchange):
    exchange.route("POST", "/api/v5/trade/batch-orders", echo_okx_order)

    okx_swap.create_order(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="limit",
        amount=Decimal("0.03"),
        price=Decimal("60000"),
        client_order_id="dce31t0",
        reduce_only=True,
        position_side="short",
        margin_mode="cross",
    )

    [sent] = exchange.sent("POST", "/api/v5/trade/batch-orders")
    assert (sent.params["side"], sent.params["posSide"], sent.params["tdMode"], sent.params["sz"]) == (
        "buy",
        "short",
        "cross",
        "3",
    )
    assert "reduceOnly" not in sent.params


def test_okx_one_way_close_is_reduce_only(okx_swap, exchange):
    exchange.route("POST", "/api/v5/trade/batch-orders", echo_okx_order)

    okx_swap.create_order(
        **SHORT_LEG, amount=Decimal("0.02"), client_order_id="d1", reduce_only=True, margin_mode="cross"
    )

    [sent] = exchange.sent("POST", "/api/v5/trade/batch-orders")
    assert sent.params["reduceOnly"] is True and "posSide" not in sent.params and sent.params["tdMode"] == "cross"


def test_binance_one_way_take_profit_is_reduce_only(binance_swap, exchange):
    exchange.route("POST", "/fapi/v1/order", echo_binance_futures_order)

    order = binance_swap.place_order(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="limit",
        amount=Decimal("0.0105"),
        price=Decimal("60000.04"),
        client_order_id="dce-1-1-tp",
        reduce_only=True,
    )

    [sent] = exchange.sent("POST", "/fapi/v1/order")
    assert (sent.params["symbol"], sent.params["side"], sent.params["quantity"], sent.params["price"]) == (
        "BTCUSDT",
        "BUY",
        "0.01",
        "60000",
    )
    assert sent.params["reduceOnly"] == "true" and "positionSide" not in sent.params
    assert sent.params["newClientOrderId"] == "dce-1-1-tp"
    assert order.amount == Decimal("0.01") and order.client_order_id == "dce-1-1-tp"


@pytest.mark.parametrize(("position_side", "wire"), [("long", "LONG"), ("short", "SHORT")])
def test_binance_hedge_orders_carry_position_side_and_never_reduce_only(binance_swap, exchange, position_side, wire):
    exchange.route("POST", "/fapi/v1/order", echo_binance_futures_order)

    binance_swap.create_order(
        **SHORT_LEG, amount=Decimal("0.01"), client_order_id="dce-1-1-0", position_side=position_side, reduce_only=True
    )

    [sent] = exchange.sent("POST", "/fapi/v1/order")
    assert sent.params["positionSide"] == wire and "reduceOnly" not in sent.params


def test_binance_swap_order_without_derivative_arguments_sends_none(binance_swap, exchange):
    exchange.route("POST", "/fapi/v1/order", echo_binance_futures_order)

    binance_swap.create_order(**SHORT_LEG, amount=Decimal("0.01"), client_order_id="dce-1-1-0")

    [sent] = exchange.sent("POST", "/fapi/v1/order")
    assert not {"reduceOnly", "positionSide"} & set(sent.params)


@pytest.mark.parametrize(("position_side", "index"), [("long", "1"), ("short", "2")])
def test_bybit_hedge_orders_carry_position_idx(bybit_swap, exchange, position_side, index):
    exchange.route("POST", "/v5/order/create", Reply(recorded("bybit_order_create_linear.json")))

    order = bybit_swap.create_order(
        **SHORT_LEG, amount=Decimal("0.0125"), client_order_id="dce-7-1-0", position_side=position_side
    )

    [sent] = exchange.sent("POST", "/v5/order/create")
    assert (sent.params["category"], sent.params["symbol"], sent.params["qty"]) == ("linear", "BTCUSDT", "0.012")
    assert str(sent.params["positionIdx"]) == index and "reduceOnly" not in sent.params
    assert order.amount == Decimal("0.012")


def test_bybit_one_way_close_is_reduce_only(bybit_swap, exchange):
    exchange.route("POST", "/v5/order/create", Reply(recorded("bybit_order_create_linear.json")))

    bybit_swap.create_order(**SHORT_LEG, amount=Decimal("0.01"), client_order_id="dce-7-1-0", reduce_only=True)

    [sent] = exchange.sent("POST", "/v5/order/create")
    assert sent.params["reduceOnly"] is True and "positionIdx" not in sent.params


def test_spot_orders_refuse_derivative_arguments(bybit, exchange):
    with pytest.raises(InvalidOrder, match="spot market"):
        bybit.create_order(
            symbol="BTC/USDT",
            side="sell",
            type="limit",
            amount=Decimal("0.01"),
            price=Decimal("64000"),
            client_order_id="dce-7-1-0",
            reduce_only=True,
        )
    assert exchange.sent("POST", "/v5/order/create") == []


# --- Leverage, margin mode, position mode -------------------------------------------------------------


def bybit_answer(code: int, message: str) -> Reply:
    return Reply({"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": 1718000100456})


def test_binance_leverage_and_margin_mode_already_set_is_success(binance_swap, exchange):
    exchange.route(
        "POST", "/fapi/v1/leverage", Reply({"leverage": 5, "maxNotionalValue": "80000000", "symbol": "BTCUSDT"})
    )
    exchange.route(
        "POST", "/fapi/v1/marginType", Reply({"code": -4046, "msg": "No need to change margin type."}, status=400)
    )

    binance_swap.set_leverage("BTC/USDT:USDT", 5)
    binance_swap.set_margin_mode("BTC/USDT:USDT", "isolated")

    [leverage] = exchange.sent("POST", "/fapi/v1/leverage")
    assert (leverage.params["symbol"], leverage.params["leverage"]) == ("BTCUSDT", "5")
    [margin] = exchange.sent("POST", "/fapi/v1/marginType")
    assert (margin.params["symbol"], margin.params["marginType"]) == ("BTCUSDT", "ISOLATED")


def test_bybit_leverage_not_modified_is_success_and_a_refusal_is_not(bybit_swap, exchange):
    exchange.route("POST", "/v5/position/set-leverage", bybit_answer(110043, "Set leverage not modified"))

    bybit_swap.set_leverage("BTC/USDT:USDT", 10)

    [sent] = exchange.sent("POST", "/v5/position/set-leverage")
    assert (sent.params["category"], sent.params["symbol"]) == ("linear", "BTCUSDT")
    assert (sent.params["buyLeverage"], sent.params["sellLeverage"]) == ("10", "10")

    exchange.route(
        "POST", "/v5/position/set-leverage", bybit_answer(110013, "cannot set leverage due to risk limit level")
    )
    with pytest.raises(PermanentError, match="risk limit"):
        bybit_swap.set_leverage("BTC/USDT:USDT", 10)


def test_okx_leverage_is_set_per_margin_mode_and_leg(okx_swap, exchange):
    exchange.route(
        "POST",
        "/api/v5/account/set-leverage",
        Reply(
            {
                "code": "0",
                "msg": "",
                "data": [{"instId": "BTC-USDT-SWAP", "lever": "5", "mgnMode": "isolated", "posSide": "short"}],
            }
        ),
    )

    okx_swap.set_leverage("BTC/USDT:USDT", 5, margin_mode="isolated", position_side="short")
    okx_swap.set_margin_mode("BTC/USDT:USDT", "cross")  # OKX: travels on each order as tdMode, nothing to send

    [sent] = exchange.sent("POST", "/api/v5/account/set-leverage")
    assert (sent.params["instId"], str(sent.params["lever"]), sent.params["mgnMode"], sent.params["posSide"]) == (
        "BTC-USDT-SWAP",
        "5",
        "isolated",
        "short",
    )
    with pytest.raises(InvalidOrder, match="per margin mode"):
        okx_swap.set_leverage("BTC/USDT:USDT", 5)
    assert len(exchange.sent("POST", "/api/v5/account/set-leverage")) == 1


def test_position_mode_of_the_three_exchanges(binance_swap, bybit_swap, okx_swap, exchange):
    exchange.route("GET", "/fapi/v1/positionSide/dual", Reply({"dualSidePosition": True}))
    exchange.route("GET", "/api/v5/account/config", Reply(recorded("okx_account_config.json")))
    exchange.route("GET", "/v5/position/list", Reply(recorded("bybit_position_list.json")))

    assert binance_swap.position_mode() == "hedge"
    assert okx_swap.position_mode() == "one_way"  # the recorded account: posMode net_mode
    assert bybit_swap.position_mode() == "one_way"  # positionIdx 0
    hedged = recorded("okx_account_config.json")
    hedged["data"][0]["posMode"] = "long_short_mode"  # the same answer from an account in hedge mode
    exchange.route("GET", "/api/v5/account/config", Reply(hedged))
    assert okx_swap.position_mode() == "hedge"
    [bybit_list] = exchange.sent("GET", "/v5/position/list")
    assert (bybit_list.params["category"], bybit_list.params["symbol"]) == ("linear", "BTCUSDT")


def test_spot_account_has_no_positions(bybit):
    with pytest.raises(PermanentError, match="trades spot"):
        bybit.fetch_positions()


# --- Positions and funding ----------------------------------------------------------------------------


def test_okx_position_comes_back_in_base_units_without_a_liquidation_price(okx_swap, exchange):
    # Recorded: 1 contract of LTC-USDT-SWAP, hedge-mode long leg, cross margin; OKX answers liqPx "" (none
    # while cross collateral covers it) and margin "" (cross) - the position must still come back whole.
    exchange.route("GET", "/api/v5/account/positions", Reply(recorded("okx_positions.json")))

    [position] = okx_swap.fetch_positions(["LTC/USDT:USDT"])

    [sent] = exchange.sent("GET", "/api/v5/account/positions")
    assert sent.params["instId"] == "LTC-USDT-SWAP"
    assert (position.symbol, position.side, position.quantity, position.position_side) == (
        "LTC/USDT:USDT",
        "long",
        Decimal("0.001"),  # pos "1" contract x ctVal 0.001 LTC
        "long",
    )
    assert (position.entry_price, position.liquidation_price, position.margin_mode, position.leverage) == (
        Decimal("68.24"),
        None,
        "cross",
        Decimal("3"),
    )


def test_bybit_one_way_position(bybit_swap, exchange):
    # Recorded: a one-way (positionIdx "0") long of 1.2 LTC, liqPrice "" - Bybit sends numbers as strings.
    exchange.route("GET", "/v5/position/list", Reply(recorded("bybit_position_list.json")))

    [position] = bybit_swap.fetch_positions(["LTC/USDT:USDT"])

    assert (position.symbol, position.side, position.quantity, position.position_side) == (
        "LTC/USDT:USDT",
        "long",
        Decimal("1.2"),
        None,
    )
    assert (position.entry_price, position.liquidation_price) == (Decimal("64.59947917"), None)
    assert position.leverage == Decimal("6")  # margin mode: a unified account's is account-wide, not said here


def test_a_listed_position_without_a_size_is_an_unusable_answer_not_a_closed_position(binance_swap, exchange):
    # The recorded one-way BTC long with its size and notional left out (ccxt works the size out of the notional
    # when it has one): were it read as "no position", the positions check
    # would close groups the exchange still holds. A size of "0" is Binance's empty slot: no position.
    [entry] = recorded("binanceusdm_position_risk.json")
    exchange.route("GET", "/fapi/v1/leverageBracket", Reply(BINANCE_BRACKETS))
    exchange.route(
        "GET",
        "/fapi/v3/positionRisk",
        Reply([{k: v for k, v in entry.items() if k not in ("positionAmt", "notional")}]),
    )
    with pytest.raises(RetryableError, match="without a readable size"):
        binance_swap.fetch_positions(["BTC/USDT:USDT"])

    exchange.route("GET", "/fapi/v3/positionRisk", Reply([entry | {"positionAmt": "0"}]))
    assert binance_swap.fetch_positions(["BTC/USDT:USDT"]) == []


def test_binance_funding_history(binance_swap, exchange):
    # Recorded: one FUNDING_FEE row (strings throughout); a second, later and positive, is set in code over it.
    paid = recorded("binanceusdm_income_funding.json")[0]
    received = {**paid, "income": "0.12000000", "time": "1707494400000", "tranId": "8082457372019390061"}
    exchange.route("GET", "/fapi/v1/income", Reply([received, paid]))

    payments = binance_swap.fetch_funding_history("BTC/USDT:USDT")

    [sent] = exchange.sent("GET", "/fapi/v1/income")
    assert (sent.params["symbol"], sent.params["incomeType"]) == ("BTCUSDT", "FUNDING_FEE")
    assert [(p.amount, p.currency, p.id) for p in payments] == [
        (Decimal("-0.04618913"), "USDT", "8082457372019390060"),  # oldest first
        (Decimal("0.12"), "USDT", "8082457372019390061"),
    ]


def test_binance_recorded_swap_order_answer(binance_swap, exchange):
    # Recorded as Binance sent it (a one-way limit sell of 0.2 BTC at 110,001): nothing set over it.
    exchange.route("POST", "/fapi/v1/order", Reply(recorded("binanceusdm_order_new.json")))

    order = binance_swap.create_order(
        symbol="BTC/USDT:USDT",
        side="sell",
        type="limit",
        amount=Decimal("0.2"),
        price=Decimal("110001"),
        client_order_id="dce-1-1-0",
    )

    [sent] = exchange.sent("POST", "/fapi/v1/order")
    assert (sent.params["quantity"], sent.params["price"], sent.params["side"]) == ("0.2", "110001", "SELL")
    assert not {"reduceOnly", "positionSide"} & set(sent.params)
    assert (order.id, order.status, order.amount, order.price, order.filled) == (
        "4087922044",
        "open",
        Decimal("0.2"),
        Decimal("110001"),
        Decimal(0),
    )


def test_binance_one_way_position(binance_swap, exchange):
    # Recorded: GET /fapi/v3/positionRisk for BTCUSDT, a one-way (BOTH) long of 0.009 BTC, cross margin
    # (isolatedMargin 0). ccxt reads the leverage brackets first (for the maintenance rate).
    exchange.route("GET", "/fapi/v3/positionRisk", Reply(recorded("binanceusdm_position_risk.json")))
    exchange.route("GET", "/fapi/v1/leverageBracket", Reply(BINANCE_BRACKETS))

    [position] = binance_swap.fetch_positions(["BTC/USDT:USDT"])

    assert len(exchange.sent("GET", "/fapi/v3/positionRisk")) == 1  # one request: ccxt filters by symbol itself
    assert (position.symbol, position.side, position.quantity, position.position_side) == (
        "BTC/USDT:USDT",
        "long",
        Decimal("0.009"),
        None,
    )
    assert (position.entry_price, position.liquidation_price, position.margin_mode) == (
        Decimal("67445.9"),
        Decimal("64846.78939917"),
        "cross",
    )


def test_binance_recorded_funding_payment(binance_swap, exchange):
    # Recorded by ccxt: one FUNDING_FEE income of -0.04618913 USDT (paid) on BTCUSDT at 2024-02-09 08:00 UTC.
    exchange.route("GET", "/fapi/v1/income", Reply(recorded("binanceusdm_income_funding.json")))

    [payment] = binance_swap.fetch_funding_history("BTC/USDT:USDT")

    assert (payment.id, payment.symbol, payment.amount, payment.currency) == (
        "8082457372019390060",
        "BTC/USDT:USDT",
        Decimal("-0.04618913"),
        "USDT",
    )
    assert payment.timestamp.isoformat() == "2024-02-09T08:00:00+00:00"
    assert payment.position_side is None  # Binance's income record does not say which position paid


def test_bybit_funding_is_signed_for_the_trader_by_the_position_side(bybit_swap, exchange):
    # Recorded by ccxt: a Funding execution of the one-way LTC long (side Buy, feeRate +0.0001): Bybit's execFee
    # "0.00867" is what the long paid, which ccxt passes through unsigned as the amount.
    exchange.route("GET", "/v5/execution/list", Reply(recorded("bybit_execution_funding.json")))

    [payment] = bybit_swap.fetch_funding_history("LTC/USDT:USDT")

    [sent] = exchange.sent("GET", "/v5/execution/list")
    assert (sent.params["category"], sent.params["symbol"], sent.params["execType"]) == ("linear", "LTCUSDT", "Funding")
    assert (payment.id, payment.amount, payment.position_side) == (
        "6dff7827-9774-4881-b275-d2b9eec1ce9b",
        Decimal("-0.00867"),  # paid by the long
        "long",
    )

    # The same execution booked on a short leg (hedge mode, side Sell): the short received it.
    answer = recorded("bybit_execution_funding.json")
    answer["result"]["list"][0].update(side="Sell", execId="short-leg")
    exchange.route("GET", "/v5/execution/list", Reply(answer))
    [received] = bybit_swap.fetch_funding_history("LTC/USDT:USDT")
    assert (received.amount, received.position_side) == (Decimal("0.00867"), "short")


def test_a_spot_order_sends_exactly_what_it_sent_before_swaps(exchange, account_key):
    from tests.exchanges.test_ccxt_connector import SOL_LEG, binance_connector, echo_binance_order

    exchange.route("GET", "/api/v3/exchangeInfo", Reply(recorded("binance_exchange_info.json")))
    exchange.route("POST", "/api/v3/order", echo_binance_order("binance_order_new_full.json"))

    binance_connector(exchange, account_key).place_order(**SOL_LEG)

    [sent] = exchange.sent("POST", "/api/v3/order")
    assert set(sent.params) - {"timestamp", "signature", "recvWindow"} == {
        "symbol",
        "side",
        "type",
        "quantity",
        "price",
        "timeInForce",
        "newClientOrderId",
        "newOrderRespType",
    }


# --- Leverage tiers -----------------------------------------------------------------------------------------
# Hand-written from the exchanges' documentation (ccxt records no fetchLeverageTiers answer; see recorded/README).


def test_binance_leverage_tiers_of_one_symbol(binance_swap, exchange):
    exchange.route("GET", "/fapi/v1/leverageBracket", Reply(BINANCE_BRACKETS))

    tiers = binance_swap.fetch_leverage_tiers("BTC/USDT:USDT")

    [sent] = exchange.sent("GET", "/fapi/v1/leverageBracket")
    assert sent.params["symbol"] == "BTCUSDT"  # one symbol's brackets, not every symbol's
    assert [(t.floor, t.max_leverage, t.rate, t.amount) for t in tiers] == [
        (Decimal(0), 125, Decimal("0.004"), Decimal(0)),
        (Decimal(50000), 100, Decimal("0.005"), Decimal(50)),  # the amounts match Binance's own cum
        (Decimal(500000), 50, Decimal("0.01"), Decimal(2550)),
    ]


def test_bybit_leverage_tiers_from_the_risk_limits(bybit_swap, exchange):
    def risk_limit(max_value: str, mmr: str, leverage: str, index: int) -> dict:
        return {
            "id": index,
            "symbol": "BTCUSDT",
            "riskLimitValue": max_value,
            "maintenanceMargin": mmr,
            "initialMargin": str(1 / float(leverage)),
            "isLowestRisk": 1 if index == 1 else 0,
            "maxLeverage": leverage,
            "mmDeduction": "",
        }

    exchange.route(
        "GET",
        "/v5/market/risk-limit",
        Reply(
            {
                "retCode": 0,
                "retMsg": "OK",
                "result": {
                    "category": "linear",
                    "list": [
                        risk_limit("2000000", "0.005", "100.00", 1),
                        risk_limit("2600000", "0.0056", "80.00", 2),
                    ],
                    "nextPageCursor": "",
                },
                "retExtInfo": {},
                "time": 1718000100456,
            }
        ),
    )

    tiers = bybit_swap.fetch_leverage_tiers("BTC/USDT:USDT")

    [sent] = exchange.sent("GET", "/v5/market/risk-limit")
    assert (sent.params["category"], sent.params["symbol"]) == ("linear", "BTCUSDT")
    assert [(t.floor, t.max_leverage, t.rate) for t in tiers] == [
        (Decimal(0), 100, Decimal("0.005")),
        (Decimal(2000000), 80, Decimal("0.0056")),  # a tier starts where the one before it ends
    ]


def test_okx_leverage_tiers_count_contracts_and_come_back_in_usdt(okx_swap, exchange):
    def tier(index: int, min_size: str, max_size: str, leverage: str, mmr: str) -> dict:
        return {
            "baseMaxLoan": "",
            "imr": str(1 / float(leverage)),
            "instFamily": "BTC-USDT",
            "instId": "",
            "maxLever": leverage,
            "maxSz": max_size,
            "minSz": min_size,
            "mmr": mmr,
            "optMgnFactor": "0",
            "quoteMaxLoan": "",
            "tier": str(index),
            "uly": "BTC-USDT",
        }

    exchange.route(
        "GET",
        "/api/v5/public/position-tiers",
        Reply(
            {
                "code": "0",
                "msg": "",
                "data": [tier(1, "0", "9000", "100", "0.004"), tier(2, "9001", "18000", "75", "0.005")],
            }
        ),
    )
    exchange.route(
        "GET",
        "/api/v5/market/ticker",
        Reply(
            {
                "code": "0",
                "msg": "",
                "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": "60000", "ts": "1718000100456"}],
            }
        ),
    )

    tiers = okx_swap.fetch_leverage_tiers("BTC/USDT:USDT")

    [sent] = exchange.sent("GET", "/api/v5/public/position-tiers")
    assert (sent.params["instType"], sent.params["instFamily"]) == ("SWAP", "BTC-USDT")
    # 9,001 contracts of 0.01 BTC = 90.01 BTC, at 60,000 USDT: the second tier starts at 5,400,600 USDT.
    assert [(t.floor, t.max_leverage, t.rate) for t in tiers] == [
        (Decimal(0), 100, Decimal("0.004")),
        (Decimal("5400600"), 75, Decimal("0.005")),
    ]


def test_spot_account_has_no_leverage_tiers(bybit):
    with pytest.raises(PermanentError, match="trades spot"):
        bybit.fetch_leverage_tiers("BTC/USDT")

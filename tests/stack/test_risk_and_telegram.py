"""The Procfile's processes, driven over HTTP and management commands: the risk engine's loss offset,
and the Telegram channel (a fake Bot API on 127.0.0.1) following a position from entry to exit."""

import re
from decimal import Decimal

import pytest

from exchanges.models import PaperOrder
from tests.notifications.fake_telegram import start_fake_telegram
from tests.stack.invariants import books_straight
from tests.stack.stack import Trader, wait
from trading.models import PositionGroup

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal
ONE_LEG = [{"gap_percent": "0", "weight_percent": "100", "tp_percent": "50"}]  # far take-profits: never hit here


def _one_leg_position(stack, trader, pair: str, *, price: str, capital: str, step: str) -> dict:
    """Open a single-leg long at ``price`` through a DCA config, a market, a price and an alert."""
    response = trader.api(
        "post",
        "dca-configs/",
        json={
            "exchange": "binance",
            "pair": pair,
            "timeframe": 60,
            "levels": ONE_LEG,
            "tp_mode": "per_leg",
            "max_pyramids": 1,
            "capital_usd": capital,
        },
    )
    assert response.status_code == 201, response.text
    stack.manage("paper", "market", "binance", pair, "--tick", "0.01", "--step", step, "--min-notional", "5")
    stack.manage("paper", "price", "binance", pair, price)  # the leg fills on arrival
    trader.send(entry_price=price, symbol=pair.replace("/", ""), timeframe="60", trade_id=pair)
    return wait(
        lambda: next(
            (
                p
                for p in trader.api("get", f"positions/?symbol={pair}").json()["results"]
                if D(p["total_filled_quantity"]) > 0
            ),
            None,
        ),
        timeout=90,
        what=f"the {pair} position filled",
        logs=stack.logs,
    )


def test_beat_runs_the_risk_engine_and_the_loser_is_offset_by_the_winner(stack):
    """The reference book: BTC 1.0 @ 100 → 95 (−5 USD), ETH 2.0 @ 2,000 → 2,100 (+200), SOL 10 @ 50 → 55
    (+50). Beat's risk evaluation closes all of BTC and 0.05 ETH (5 USD of its profit); SOL is untouched."""
    stack.start("web")
    trader = Trader.from_demo(stack)
    stack.start("worker")
    stack.start("beat")
    config = trader.api("get", "risk/config").json()
    config.update({"post_pyramids_wait_minutes": 0, "required_pyramids_for_timer": 1, "evaluate_interval_seconds": 5})
    response = trader.api("put", "risk/config", json=config)
    assert response.status_code == 200, response.text

    btc = _one_leg_position(stack, trader, "BTC/USDT", price="100", capital="100", step="0.001")
    eth = _one_leg_position(stack, trader, "ETH/USDT", price="2000", capital="4000", step="0.001")
    sol = _one_leg_position(stack, trader, "SOL/USDT", price="50", capital="500", step="0.01")
    for pair, price in (("BTC/USDT", "95"), ("ETH/USDT", "2100"), ("SOL/USDT", "55")):
        stack.manage("paper", "price", "binance", pair, price)

    wait(
        lambda: trader.api("get", f"positions/{btc['id']}/").json()["status"] == "closed",
        timeout=120,
        what="beat → risk evaluation → the loser closed",
        logs=stack.logs,
    )
    wait(
        lambda: D(trader.api("get", f"positions/{eth['id']}/").json()["total_filled_quantity"]) == D("1.95"),
        timeout=60,
        what="the winner reduced by 0.05 ETH",
        logs=stack.logs,
    )

    closed = trader.api("get", f"positions/{btc['id']}/").json()
    assert (closed["exit_reason"], D(closed["realized_pnl_usd"])) == ("risk_offset", D("-5"))
    assert D(trader.api("get", f"positions/{eth['id']}/").json()["realized_pnl_usd"]) == D("5")
    untouched = trader.api("get", f"positions/{sol['id']}/").json()
    assert (untouched["status"], D(untouched["total_filled_quantity"])) == ("active", D("10"))
    [offset] = trader.api("get", "risk/actions/?action_type=offset_loss").json()["results"]
    assert offset["loser_group"] == btc["id"] and D(offset["required_usd"]) == D("5")
    assert [(w["symbol"], w["quantity_closed"]) for w in offset["winner_details"]] == [("ETH/USDT", "0.05")]
    sells = PaperOrder.objects.filter(side="sell", order_type="market").order_by("symbol")
    assert [(o.symbol, o.amount, o.average) for o in sells] == [
        ("BTC/USDT", D("1"), D("95")),
        ("ETH/USDT", D("0.05"), D("2100")),
    ]
    books_straight()


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_the_telegram_channel_follows_a_position_from_entry_to_exit(stack):
    fake = start_fake_telegram()
    try:
        stack.env["TELEGRAM_API_BASE"] = fake.base_url
        stack.start("web")
        trader = Trader.from_demo(stack)
        response = trader.api(
            "put",
            "telegram/config/",
            json={
                **trader.api("get", "telegram/config/").json(),
                "enabled": True,
                "bot_token": "123456:STACK-token",
                "channel_id": "@signals",
                "engine_signature": "",
            },
        )
        assert response.status_code == 200, response.text
        stack.start("worker")
        stack.start("beat")

        started = trader.api("post", "telegram/test/")  # a job: the web process never calls Telegram
        assert started.status_code == 202, started.text
        test = wait(
            lambda: finished_job(trader, started.json()["id"]),
            timeout=60,
            what="the worker to send the Telegram test message",
            logs=stack.logs,
        )
        assert test["status"] == "succeeded" and test["result"]["ok"] is True, test
        trader.send(entry_price="100")  # BTC at 101: the five legs rest

        entry = wait(
            lambda: next((r for r in fake.sent("sendMessage") if "LONG Entry" in r.body["text"]), None),
            timeout=90,
            what="the entry card in the channel",
            logs=stack.logs,
        )
        assert entry.token == "123456:STACK-token" and entry.body["chat_id"] == "@signals"
        assert _plain(entry.body["text"]).startswith("📈 LONG Entry\nBINANCE · BTCUSDT · 15m\n🆔 ")

        stack.manage("paper", "price", "binance", "BTC/USDT", "99.2")  # legs at 100.00 and 99.50 fill
        edit = wait(
            lambda: next(
                (r for r in fake.sent("editMessageText") if "PARTIALLY_FILLED (2/5 legs)" in _plain(r.body["text"])),
                None,
            ),
            timeout=90,
            what="beat's fill sync to edit the card in place",
            logs=stack.logs,
        )
        assert edit.body["message_id"] == entry_message_id(fake, entry)

        exit_alert = trader.alert(entry_price="99.2", intent="exit", side="sell", trade_id="exit")
        exit_alert["tv"].update(market_position="flat", prev_market_position="long")  # TradingView's exit of a long
        assert stack.webhook(trader, exit_alert).status_code == 202
        exit_message = wait(
            lambda: next((r for r in fake.sent("sendMessage") if "LONG Exit" in r.body["text"]), None),
            timeout=90,
            what="the exit message",
            logs=stack.logs,
        )
        assert _plain(exit_message.body["text"]).startswith("❌ LONG Exit · Exit signal\nBINANCE · BTCUSDT · 15m")
        assert PositionGroup.objects.get().status == "closed"
        books_straight()
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def finished_job(trader, job_id) -> dict | None:
    job = trader.api("get", f"jobs/{job_id}/").json()
    return job if job["status"] in ("succeeded", "failed") else None


def entry_message_id(fake, entry) -> int:
    """The message id the fake Bot API gave the entry card (it numbers sendMessage answers from 101)."""
    return 101 + [r for r in fake.sent("sendMessage")].index(entry)

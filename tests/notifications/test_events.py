"""From trading events to stored notifications: toggles, quiet hours, pyramids, thresholds, risk."""

import re
from datetime import time
from decimal import Decimal as D

import pytest

from core.events import emit
from exchanges.models import ExchangeAccount
from exchanges.paper.services import paper_price_set
from notifications.models import Notification
from notifications.tasks import threshold_sweep_task
from trading.models import PositionGroup
from trading.services.sync import prices_sync, symbol_sync

pytestmark = pytest.mark.django_db


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def fill_two_legs(trader, capture):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.2"))
    account = ExchangeAccount.objects.get(user=trader)
    with capture(execute=True):
        symbol_sync(account_id=account.pk, symbol="BTC/USDT")
        prices_sync(account_id=account.pk)


@pytest.fixture
def above_the_grid(trader):
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))


def test_switched_off_fills_send_nothing_and_say_why(
    route, trader, above_the_grid, fake_telegram, telegram_on, django_capture_on_commit_callbacks
):
    telegram_on(trader, send_dca_fill_updates=False, send_status_updates=False)
    route(entry_price="100")
    fill_two_legs(trader, django_capture_on_commit_callbacks)

    assert [r.method for r in fake_telegram.sent()] == ["sendMessage"]  # the entry card only
    skipped = Notification.objects.filter(status="skipped", event_type="dca_fill")
    assert skipped.count() == 2 and {n.error for n in skipped} == {"send_dca_fill_updates is off"}


def test_without_update_existing_message_each_fill_is_a_new_message(
    route, trader, above_the_grid, fake_telegram, telegram_on, django_capture_on_commit_callbacks
):
    telegram_on(trader, update_existing_message=False, send_status_updates=False)
    route(entry_price="100")
    fill_two_legs(trader, django_capture_on_commit_callbacks)

    texts = [plain(r.body["text"]) for r in fake_telegram.sent("sendMessage")]
    assert fake_telegram.sent("editMessageText") == []
    assert [t.splitlines()[0] for t in texts] == ["📈 LONG Entry", "🧩 DCA fill · LONG", "🧩 DCA fill · LONG"]
    assert "Pyramid 1 · leg 1: " in texts[1] and "@ 100.00" in texts[1]


def test_quiet_hours_hold_back_the_entry_but_not_a_failure(
    route, trader, above_the_grid, fake_telegram, telegram_on, django_capture_on_commit_callbacks
):
    telegram_on(trader, quiet_hours_enabled=True, quiet_hours_start=time(0, 0), quiet_hours_end=time(23, 59, 59))
    route(entry_price="100")
    group = PositionGroup.objects.get(user=trader)
    with django_capture_on_commit_callbacks(execute=True):
        emit("failure", group=group, message="Order refused by binance: insufficient balance <USDT>")

    assert Notification.objects.get(event_type="entry").error == "quiet hours"
    (failure,) = fake_telegram.sent("sendMessage")
    assert "insufficient balance &lt;USDT&gt;" in failure.body["text"]


def test_a_pyramid_edits_the_card_or_posts_a_new_one(route, trader, above_the_grid, fake_telegram, telegram_on):
    config = telegram_on(trader)
    route(entry_price="100")
    route(entry_price="99.9")  # pyramid 2, card edited
    edit = fake_telegram.sent("editMessageText")[-1]
    assert "🔷 Pyramid 2/5 · per_leg TP" in plain(edit.body["text"])
    assert "┌─ Pyramid 2 " in plain(edit.body["text"])

    config.update_on_pyramid = False
    config.save()
    route(entry_price="99.8")  # pyramid 3, its own message
    last = plain(fake_telegram.sent("sendMessage")[-1].body["text"])
    assert last.startswith("📈 LONG Pyramid 3/5")


def test_loss_alert_once_per_crossing(
    route, trader, above_the_grid, fake_telegram, telegram_on, django_capture_on_commit_callbacks
):
    telegram_on(trader, alert_loss_threshold_percent=D("-1"))
    route(entry_price="100")
    account = ExchangeAccount.objects.get(user=trader)

    def price(value):  # a beat cycle: fill sync, price sync, then the threshold sweep
        paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D(value))
        with django_capture_on_commit_callbacks(execute=True):
            symbol_sync(account_id=account.pk, symbol="BTC/USDT")
            prices_sync(account_id=account.pk)
        threshold_sweep_task.apply()

    def alerts():
        return [plain(r.body["text"]) for r in fake_telegram.sent("sendMessage") if "Loss alert" in r.body["text"]]

    price("99.9")  # leg 1 fills at 100.00: -0.1%
    assert alerts() == []
    price("98.9")  # legs at 99.5 and 99 fill too; about -0.5% .. below -1% once the price falls
    price("97.1")
    assert len(alerts()) == 1 and "crossed -1.00%" in alerts()[0]
    price("97.0")  # still beyond: no repeat
    assert len(alerts()) == 1
    price("99.9")  # recovered: re-armed, nothing sent
    assert len(alerts()) == 1
    assert Notification.objects.filter(topic="loss:cleared").count() == 1
    price("97.0")  # a second crossing
    assert len(alerts()) == 2


def test_risk_timer_events_are_sent_as_alerts(
    route, trader, above_the_grid, fake_telegram, telegram_on, django_capture_on_commit_callbacks
):
    from risk.evaluation import risk_evaluate
    from trading.models import RiskConfig

    telegram_on(trader, quiet_hours_enabled=True, quiet_hours_start=time(0, 0), quiet_hours_end=time(23, 59, 59))
    RiskConfig.objects.update_or_create(
        user=trader,
        defaults={
            "required_pyramids_for_timer": 1,
            "loss_threshold_percent": D("-1"),
            "post_pyramids_wait_minutes": 60,
        },
    )
    route(entry_price="100")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("97.5"))  # every leg fills, then -1.5%
    account = ExchangeAccount.objects.get(user=trader)
    with django_capture_on_commit_callbacks(execute=True):
        symbol_sync(account_id=account.pk, symbol="BTC/USDT")
        paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("96"))
        prices_sync(account_id=account.pk)
        risk_evaluate(user=trader)

    risk = [plain(r.body["text"]) for r in fake_telegram.sent("sendMessage")]
    assert len(risk) == 1 and risk[0].startswith("🚨 ⏳ Risk timer started\n")  # urgent: through quiet hours
    assert risk[0].endswith("Eligible for a loss offset in 60 min unless it recovers.")


def test_a_take_profit_fill_is_its_own_message(
    route, trader, above_the_grid, fake_telegram, telegram_on, django_capture_on_commit_callbacks
):
    telegram_on(trader)
    route(entry_price="100")
    account = ExchangeAccount.objects.get(user=trader)
    for value in ("99.9", "102.5"):  # leg 1 fills at 100.00, then its take-profit at 102.00
        paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D(value))
        with django_capture_on_commit_callbacks(execute=True):
            symbol_sync(account_id=account.pk, symbol="BTC/USDT")
            prices_sync(account_id=account.pk)

    texts = [plain(r.body["text"]) for r in fake_telegram.sent("sendMessage")]
    (hit,) = [t for t in texts if t.startswith("🎯 Take-profit hit · LONG")]
    assert "Sold 2 @ 102.00" in hit and "💵 Profit: +$4.00" in hit


def test_a_risk_offset_is_announced_with_what_the_winners_cover(
    route, trader, above_the_grid, fake_telegram, telegram_on, django_capture_on_commit_callbacks
):
    telegram_on(trader)
    route(entry_price="100")
    group = PositionGroup.objects.get(user=trader)
    with django_capture_on_commit_callbacks(execute=True):
        emit("risk", group=group, event="offset_executed", covered_usd=D("1250.5"), required_usd=D("1200"))

    text = plain(fake_telegram.sent("sendMessage")[-1].body["text"])
    assert text.startswith("🚨 ⚖️ Loss offset executed\nBINANCE · BTCUSDT · 15m")
    assert text.endswith("Closing it; winners cover 1,250.50 of the 1,200.00 USD loss.")

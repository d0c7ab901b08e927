"""A signal and its fills on the paper exchange, as the Telegram channel sees them: one position card,
posted on entry and then edited in place; a separate message when the position closes."""

import re
from decimal import Decimal as D

import pytest

from exchanges.models import ExchangeAccount
from exchanges.paper.services import paper_price_set
from notifications.models import Notification
from trading.models import PositionGroup
from trading.services.sync import prices_sync, symbol_sync

pytestmark = pytest.mark.django_db


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def sync(trader, capture):
    account = ExchangeAccount.objects.get(user=trader)
    with capture(execute=True):
        symbol_sync(account_id=account.pk, symbol="BTC/USDT")
        prices_sync(account_id=account.pk)


def test_entry_card_is_posted_then_edited_with_each_fill_and_the_exit_is_a_new_message(
    route, trader, fake_telegram, telegram_on, django_capture_on_commit_callbacks
):
    telegram_on(trader)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))

    route(entry_price="100")

    entry = fake_telegram.sent("sendMessage")
    assert len(entry) == 1
    card_id = 101
    text = plain(entry[0].body["text"])
    assert text.startswith("📈 LONG Entry\nBINANCE · BTCUSDT · 15m\n🆔 ")
    assert "│ ⏳ 20%  100.00  → TP 102.00" in text and "│ ⏳ 20%  98.00  → TP 99.96" in text
    assert "🔷 Pyramid 1/5 · per_leg TP" in text
    group = PositionGroup.objects.get(user=trader)
    assert Notification.objects.get(group=group, event_type="entry").telegram_message_id == card_id

    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.2"))  # legs at 100.00 and 99.50 fill
    sync(trader, django_capture_on_commit_callbacks)

    assert len(fake_telegram.sent("sendMessage")) == 1  # no new message for fills
    edits = fake_telegram.sent("editMessageText")
    assert edits and {e.body["message_id"] for e in edits} == {card_id}
    card = plain(edits[-1].body["text"])
    assert "│ ✅ 20%  100.00  → TP 102.00" in card and "│ ✅ 20%  99.50  → TP 101.49" in card
    assert "│ ⏳ 20%  99.00  → TP 100.98" in card
    assert "📊 PARTIALLY_FILLED (2/5 legs)" in card
    assert "💰 Invested: $400.00" in card or "💰 Invested: $399" in card
    assert "📉 Unrealized: -" in card
    assert Notification.objects.filter(group=group, is_edit=True, status="sent").exists()

    route(intent="exit", side="sell", prev_market_position="long", market_position="flat", entry_price="99.2")

    group.refresh_from_db()
    assert group.status == "closed"
    exit_message = plain(fake_telegram.sent("sendMessage")[-1].body["text"])
    assert exit_message.startswith("❌ LONG Exit · Exit signal\nBINANCE · BTCUSDT · 15m")
    assert "💵 PnL: -" in exit_message


def test_disabled_telegram_sends_nothing_and_trading_carries_on(route, trader, fake_telegram):
    signal = route(entry_price="100")
    assert signal.status == "opened"
    assert fake_telegram.sent() == [] and not Notification.objects.exists()


def test_telegram_down_never_fails_a_trade(route, trader, settings, telegram_on):
    settings.TELEGRAM_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
    telegram_on(trader)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("101"))
    signal = route(entry_price="100")
    assert signal.status == "opened"
    assert PositionGroup.objects.get(user=trader).status == "live"  # the grid is on the exchange
    entry = Notification.objects.get(event_type="entry")
    assert entry.status == "retrying" and entry.error.startswith("network error")  # a worker retries it later

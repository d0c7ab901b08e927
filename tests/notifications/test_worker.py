"""With a real Celery worker and beat: the webhook's entry reaches the fake Telegram after a 429 and
Telegram's requested wait, then beat's fill sync edits the same message in place."""

import json
import re
from decimal import Decimal

import pytest
from django.core.management import call_command

from exchanges.paper.services import paper_price_set
from notifications.models import Notification
from tests.alert_bodies import sent_alert
from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory
from tests.paper_markets import list_paper_market
from tests.processes import beat_command, process_env, running, wait_until, worker_command

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_entry_waits_out_the_rate_limit_then_fills_edit_it(client, tmp_path, fake_telegram, telegram_on):
    user = UserFactory(username="e2e-telegram")
    telegram_on(user)
    ExchangeAccountFactory(user=user, price_feed="manual", starting_balance=Decimal("100000"))
    list_paper_market()
    DCAConfigurationFactory(user=user)
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("101"))
    fake_telegram.answer_next(
        "sendMessage",
        429,
        {"ok": False, "error_code": 429, "description": "Too Many Requests", "parameters": {"retry_after": 2}},
    )
    body = sent_alert(
        user,
        tv={
            "entry_price": "100",
            "close_price": "100",
            "order_size": "",
            "market_position_size": "",
            "prev_market_position_size": "",
        },
        strategy_info={"trade_id": "1", "alert_name": "e2e", "alert_message": ""},
        execution_intent={"position_size_type": "quote"},
    )
    env = process_env(FILL_SYNC_SECONDS="1", TELEGRAM_API_BASE=fake_telegram.base_url)
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with running(worker_command(concurrency=2), worker_log, env), running(beat_command(tmp_path), beat_log, env):
        response = client.post(f"/webhooks/{user.id}/tradingview", data=json.dumps(body), content_type="text/plain")
        assert response.status_code == 202, response.content

        sends = wait_until(
            lambda: len(fake_telegram.sent("sendMessage")) >= 2 and fake_telegram.sent("sendMessage"),
            timeout=60,
            what="the entry message, sent again after the 429",
            log=worker_log,
        )
        first, second = sends[:2]
        assert second.at - first.at >= 2  # Telegram's retry_after was honoured
        assert "LONG Entry" in first.body["text"] and "LONG Entry" in second.body["text"]
        # While it waited, the grid went on the exchange: the card went out with that, not stale.
        assert "📊 LIVE (0/5 legs)" in second.body["text"]
        entry = wait_until(
            lambda: Notification.objects.filter(event_type="entry", status="sent").first(),
            timeout=10,
            what="the entry notification recorded as sent",
        )
        assert entry.attempts == 2

        call_command("paper", "price", "binance", "BTC/USDT", "99.2")  # legs at 100.00 and 99.50 fill

        def card_with_two_fills():
            edits = fake_telegram.sent("editMessageText")
            return edits and "(2/5 legs)" in edits[-1].body["text"] and edits[-1]

        edit = wait_until(card_with_two_fills, timeout=60, what="the card edited with two fills", log=worker_log)
    assert edit.body["message_id"] == entry.telegram_message_id
    assert len(re.findall("✅", edit.body["text"])) == 2
    assert len(fake_telegram.sent("sendMessage")) == 2  # the fills edited; no new message

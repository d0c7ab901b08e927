import socket
from decimal import Decimal

import pytest

from tests.notifications.fake_telegram import start_fake_telegram
from tests.paper_markets import list_paper_market


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def eager_celery():
    """Tasks enqueued after commit run inline, so a test sees the whole signal → orders flow."""
    from config.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def network_tap(monkeypatch) -> list[str]:
    """Every host name something tried to reach beyond this machine, in order; each attempt fails as
    with no network (an exchange account with made-up keys can never reach the real exchange)."""
    reached: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in {"localhost", "127.0.0.1", "::1"} and not name.startswith("127."):
            reached.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return reached


@pytest.fixture
def trader(db):
    """A trader ready to route signals on the paper exchange: the walkthrough market, price and ladder."""
    from exchanges.paper.services import paper_price_set
    from tests.factories import DCAConfigurationFactory, ExchangeAccountFactory, UserFactory

    user = UserFactory(username="walkthrough")
    ExchangeAccountFactory(
        user=user,
        exchange_id="binance",
        price_feed="manual",
        starting_balance=Decimal("100000"),
        maker_fee_percent=0,
        taker_fee_percent=0,
        market_slippage_percent=0,
    )
    list_paper_market()
    list_paper_market("ETH/USDT")
    DCAConfigurationFactory(user=user)  # BTC/USDT 15m, the walkthrough ladder, 1000 USD per pyramid
    DCAConfigurationFactory(user=user, pair="ETH/USDT")
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=Decimal("100"))
    paper_price_set(exchange_id="binance", symbol="ETH/USDT", price=Decimal("100"))
    return user


@pytest.fixture
def route(trader, eager_celery, django_capture_on_commit_callbacks):
    """route(**alert) → the routed Signal, with its grid placed (or its close done) on the paper exchange."""
    from tests.signals import stored_signal
    from trading.services.routing import signal_route

    def _route(user=None, **kwargs):
        signal = stored_signal(user or trader, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            signal_route(signal_id=signal.pk)
        signal.refresh_from_db()
        return signal

    return _route


@pytest.fixture
def perpetuals(trader):
    """The walkthrough trader's paper account as a swap account (one-way, leverage 1): its BTCUSDT is the
    shipped perpetual BTC/USDT:USDT (contracts of 0.001 BTC, tick 0.1, settled in USDT), priced 100 like
    the walkthrough's spot market. Returns the account."""
    from exchanges.models import ExchangeAccount
    from exchanges.paper.connector import PaperConnector
    from exchanges.paper.services import paper_price_set

    account = ExchangeAccount.objects.get(user=trader)
    account.market_type = ExchangeAccount.MarketType.SWAP
    account.save(update_fields=["market_type"])
    PaperConnector(account).load_markets()
    paper_price_set(exchange_id="binance", symbol="BTC/USDT:USDT", price=Decimal("100"))
    return account


@pytest.fixture
def broker_down(monkeypatch):
    """Point the Celery app at a closed port, as when Redis is down."""
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    yield
    app.pool.force_close_all()


@pytest.fixture
def fake_telegram(settings):
    """The Bot API at 127.0.0.1 for this test; nothing leaves the machine."""
    fake = start_fake_telegram()
    settings.TELEGRAM_API_BASE = fake.base_url
    yield fake
    fake.server.shutdown()
    fake.server.server_close()

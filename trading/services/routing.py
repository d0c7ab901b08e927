"""Signal routing: a stored alert becomes a new group, a pyramid, a queue entry, or a close.

Two phases. First, outside any transaction, the exchange layer is asked what it knows (the
account, the market for the TradingView ticker, its precision) — markets are cached, so this
rarely leaves the process. Then, holding the user's risk-config row lock (which serialises one
user's signals while other users route in parallel), the decision is taken and every row it
needs is written in one transaction. Exchange work (placing the grid, closing) is enqueued
after commit. Every signal ends with a status and a human-readable reason; an ``auto`` alert's reason
starts with what the strategy's order did ("auto: long 0.03 → long 0.015: reduce by 0.015"), and an
entry's ends with where its size came from (``trading.sizing``).
"""

import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from exchanges.account_choice import describe
from exchanges.connector import ExchangeError, Market, PermanentError
from exchanges.currency import is_usd, quote_of, rate_symbol
from exchanges.models import ExchangeAccount
from exchanges.numbers import round_to_step
from exchanges.services.accounts import account_for, connector_for_account
from exchanges.services.derivatives import (
    leverage_tiers,
    position_mode_of,
    settings_differ,
    settings_last_set,
    symbol_busy,
)
from exchanges.tiers import MarginTier
from trading.alerts import Alert, parse_alert
from trading.grid import GridError, PlannedLeg, Precision, parse_levels, plan_grid
from trading.liquidation import LeverageChoice, leverage_for_grid
from trading.locks import (
    lock_active_group,
    lock_queued_signal,
    lock_queued_signal_for,
    lock_signal,
    lock_user_routing,
)
from trading.models import (
    ExitReason,
    PositionGroup,
    Pyramid,
    QueuedSignal,
    RiskConfig,
    Side,
    Signal,
    position_label,
)
from trading.pool import PoolLimits, PoolUsage, SlotDecision, slot_decision
from trading.selectors import (
    active_groups,
    committed_exposure_usd,
    dca_config_for,
    groups_on_symbol,
    realized_loss_today_usd,
)
from trading.services import dispatch
from trading.services.breaker import daily_loss_breaker
from trading.services.closing import position_close_request
from trading.services.positions import position_open, pyramid_add
from trading.services.queue import queue_resolve, queue_signal
from trading.services.signals import SIGNAL_MAX_AGE
from trading.services.transitions import signal_transition, signals_move
from trading.sizing import Sizing, pyramid_sizing
from trading.states import GroupStatus, SignalStatus

logger = logging.getLogger(__name__)

S = Signal.Status
# The stored payload has its secret removed; parsing needs the field present.
STORED_SECRET = "stored"


class RoutingRejected(Exception):
    """The signal cannot be acted on; the message tells the trader what to fix."""


@dataclass(frozen=True)
class Context:
    """What the exchange layer told us about the signal's market, gathered before taking the lock."""

    alert: Alert
    account_id: int
    account_market_type: str  # spot | swap: what the account trades (ExchangeAccount.MarketType)
    account_name: str  # how a reason names the account: its label and market type
    exchange: str
    symbol: str
    market: Market
    quote_usd_rate: Decimal | None  # USD per unit of the market's quote; None when it could not be read
    market_type: str = "spot"  # swap: a perpetual on a swap account (its orders carry derivatives flags)
    position_mode: str = ""  # a swap account's one_way | hedge, as stored (read when none was)
    settings_refusal: str = ""  # why a new group's leverage/margin mode cannot be set now ("" when it can)
    # A swap entry's leverage tiers on the account's exchange (exchanges.tiers), or None and why not.
    tiers: tuple[MarginTier, ...] | None = None
    tiers_unavailable: str = ""


@dataclass
class Close:
    """A close (``quantity`` None) or a reduce to send once the decision is committed."""

    group_id: object
    reason: str
    quantity: Decimal | None = None
    then_submit: list = field(default_factory=list)  # a reverse's grids, placed once this close filled
    request_key: str | None = None  # makes a reduce happen once however often its task runs


@dataclass
class AfterCommit:
    """Exchange work to start once the decision is committed."""

    submit_pyramid_ids: list
    closes: list[Close]


def signal_route(*, signal_id, queue_entry_id=None, force: bool = False) -> Signal:
    """Route one signal (from the webhook, the sweep, or a queue promotion). Safe to call twice.

    ``queue_entry_id``: the signal waits in that queue entry and is being promoted; if there is
    still no slot it stays queued, untouched. ``force`` (a trader's manual promote) skips the pool
    limits, but not a force-stop.
    """
    signal = Signal.objects.select_related("user").get(pk=signal_id)
    expected = S.QUEUED if queue_entry_id else S.RECEIVED
    if signal.status != expected:
        return signal
    # An entry that waited out an outage belongs to a past bar: not opened late. Exits and reduces
    # only take risk off what the strategy already left, so they still run; a queued entry ages on
    # purpose and has its own TTL.
    age = timezone.now() - signal.received_at
    if not queue_entry_id and signal.intent in (Signal.Intent.SIGNAL, Signal.Intent.REVERSE) and age > SIGNAL_MAX_AGE:
        return _finish(
            signal,
            S.FAILED,
            (
                f"Not traded: the alert arrived {age.total_seconds() / 60:.0f} minutes ago and waited for a worker "
                f"(broker or workers down?); alerts older than {SIGNAL_MAX_AGE.total_seconds() / 60:.0f} minutes "
                "belong to a past bar. Send it again if it still applies."
            ),
        )
    try:
        context = _gather(signal)
    except RoutingRejected as exc:
        return _finish(signal, S.REJECTED, str(exc))
    after = AfterCommit([], [])
    with transaction.atomic():
        risk = lock_user_routing(signal.user)
        signal = lock_signal(signal.pk)
        if signal.status != expected:
            return signal
        if queue_entry_id:
            entry = lock_queued_signal(queue_entry_id)
            if entry.status != QueuedSignal.Status.QUEUED or entry.signal_id != signal.pk:
                return signal
        status, reason = _decide(signal, context, risk, after, promoted=bool(queue_entry_id), force=force)
        derivation = context.alert.derivation
        if derivation is not None:
            reason = f"{derivation.summary}. {reason}"
        if queue_entry_id and status != S.QUEUED:
            queue_resolve(entry, status=QueuedSignal.Status.PROMOTED, reason=f"Promoted: {reason}")
        if status != S.QUEUED:
            signal_transition(signal, to=status, reason=reason, routed_at=timezone.now(), symbol=context.symbol)
        else:
            queued = Signal.objects.filter(pk=signal.pk)
            if derivation is not None and not queue_entry_id:  # the queue wrote its reason: say what was queued
                queued.update(reason=Concat(Value(f"{derivation.summary}. "), F("reason")))
            queued.update(routed_at=timezone.now(), symbol=context.symbol)
        transaction.on_commit(lambda: _enqueue(after))
    signal.refresh_from_db()
    logger.info("signal %s → %s: %s", signal.pk, signal.status, signal.reason)
    return signal


def _finish(signal: Signal, status: SignalStatus, reason: str) -> Signal:
    signals_move(
        Signal.objects.filter(pk=signal.pk),
        sources=[S.RECEIVED, S.QUEUED],
        to=status,
        reason=reason,
        routed_at=timezone.now(),
    )
    signal.refresh_from_db()
    logger.info("signal %s → %s: %s", signal.pk, status, reason)
    return signal


def _enqueue(after: AfterCommit) -> None:
    """Start the exchange work. If the broker is down the decision stands: the stalled-work sweep
    (``trading.services.recovery``) re-sends it within a minute."""
    for pyramid_id in after.submit_pyramid_ids:
        dispatch.submit_pyramid(pyramid_id)
    for close in after.closes:
        dispatch.close_position(
            close.group_id, close.reason, close.quantity, close.then_submit, request_key=close.request_key
        )


# --- Phase 1: what the exchange knows ---------------------------------------------------------


def _gather(signal: Signal) -> Context:
    try:
        assert signal.payload is not None  # a routed signal is an accepted one, stored with its alert
        alert = parse_alert({**signal.payload, "secret": STORED_SECRET}, now=None, replay_window_seconds=0)
    except Exception as exc:  # the webhook validated it; a stored payload that no longer parses is rejected
        raise RoutingRejected(f"The stored alert no longer parses: {exc}") from exc
    try:
        account = account_for(signal.user, alert.exchange, tv_symbol=alert.tv_symbol, label=alert.account)
        connector = connector_for_account(account)
        symbol = connector.resolve_symbol(alert.tv_symbol)
        market = connector.market(symbol)
    except PermanentError as exc:
        raise RoutingRejected(str(exc)) from exc
    if not market.tick_size or not market.step_size:
        raise RoutingRejected(f"{alert.exchange} gives no price/quantity precision for {symbol}: nothing was placed.")
    _price_seen(connector, symbol, alert)
    swap = account.market_type == ExchangeAccount.MarketType.SWAP and bool(market.settle)
    try:
        position_mode = position_mode_of(account, connector) if swap else ""
    except PermanentError as exc:
        raise RoutingRejected(f"{describe(account)}: {exc}") from exc
    context = Context(
        alert=alert,
        account_id=account.pk,
        account_market_type=account.market_type,
        account_name=describe(account),
        exchange=alert.exchange,
        symbol=symbol,
        market=market,
        quote_usd_rate=_quote_usd_rate(connector, symbol),
        market_type="swap" if swap else "spot",
        position_mode=position_mode,
    )
    if not swap or alert.intent not in (Signal.Intent.SIGNAL, Signal.Intent.REVERSE):
        return context
    # An entry that may open a swap group: the exchange's leverage tiers cap its leverage (cached; a failure
    # leaves the configured leverage, said in the reason), and that leverage must be settable now.
    tiers, unavailable = leverage_tiers(account, symbol, connector)
    context = replace(context, tiers=tuple(tiers) if tiers else None, tiers_unavailable=unavailable)
    try:
        return replace(context, settings_refusal=_settings_refusal(signal, context, account, connector))
    except PermanentError as exc:
        raise RoutingRejected(f"{describe(account)}: {exc}") from exc


def _settings_refusal(signal: Signal, context: Context, account: ExchangeAccount, connector) -> str:
    """For an entry that would open a new group on a swap account: why the leverage it would trade with (its
    configuration's, capped by the exchange's tiers for the grid planned at the alert's price) and its margin
    mode cannot be set on the symbol ("" when they need no change, or can change). They differ from what was
    last set, and the account has open orders or a position on the symbol (opened by hand, say): the exchange
    refuses a margin-mode change then, and a leverage change would move those orders and that position, sized for
    the settings in force. The engine's own groups on the symbol are compared under the lock
    (``_settings_conflict``). A pyramid on an open group keeps the group's settings (decided under the lock; this
    is read before it, and only used for a new group)."""
    alert, symbol = context.alert, context.symbol
    config = dca_config_for(user=signal.user, exchange=alert.exchange, symbol=symbol, timeframe=alert.timeframe)
    if config is None:
        return ""
    leverage = _planned_leverage(context, config)
    if not settings_differ(account, symbol, leverage=leverage, margin_mode=config.margin_mode):
        return ""
    busy = symbol_busy(connector, symbol)
    if not busy:
        return ""
    last = settings_last_set(account, symbol)
    in_force = f"{last['leverage']}x {last['margin_mode']}" if last else "the exchange's current settings"
    trades = f"{leverage}x" + (
        f" (its {config.leverage}x capped by the exchange's tier)" if leverage != config.leverage else ""
    )
    return (
        f"its DCA configuration trades {trades} {config.margin_mode} but {symbol} is set to {in_force} "
        f"on {describe(account)}, and leverage and margin mode cannot change while {busy} on {symbol}. "
        f"Nothing was placed: close what is open on {symbol} first, or give the configuration the settings in force."
    )


def _planned_leverage(context: Context, config) -> int:
    """The leverage a new group from ``config`` would trade with, its grid planned as ``_entry`` plans it;
    the configured one when the grid cannot be planned (the entry is refused then anyway)."""
    if context.quote_usd_rate is None:
        return config.leverage
    sizing = _sizing(
        context,
        capital_usd=config.capital_usd,
        use_signal_size=config.use_signal_size,
        quote_usd_rate=context.quote_usd_rate,
    )
    try:
        legs = _plan(
            context.alert, context, parse_levels(config.pyramid_levels.get("0") or config.levels), sizing.capital
        )
    except GridError:
        return config.leverage
    return _leverage_choice(context, config.leverage, legs).leverage


def _leverage_choice(context: Context, configured: int, legs: list[PlannedLeg]) -> LeverageChoice:
    """The configured leverage capped by the exchange's tier for the grid's full notional (every leg filled)."""
    return leverage_for_grid(
        configured=configured,
        notional=sum((leg.notional for leg in legs), Decimal(0)),
        quote=context.market.quote,
        tiers=context.tiers,
        unavailable=context.tiers_unavailable,
    )


def _price_seen(connector, symbol: str, alert: Alert) -> None:
    """Tell the exchange layer the chart's price: a paper market without a price yet starts there."""
    try:
        connector.price_seen(symbol, alert.close_price or alert.entry_price)
    except ExchangeError as exc:  # a hint: the paper exchange falls back to its reference price
        logger.warning("price of %s from the alert not taken: %s", symbol, exc)


def _quote_usd_rate(connector, symbol: str) -> Decimal | None:
    """1 for a USD quote; otherwise the price of <quote>/USDT (None when it cannot be read: an entry is
    then refused, an exit or a reduce does not need it)."""
    quote = quote_of(symbol)
    if is_usd(quote):
        return Decimal(1)
    try:
        return connector.ticker(rate_symbol(quote)).last or None
    except ExchangeError as exc:
        logger.warning("no USD rate for %s (%s): %s", quote, rate_symbol(quote), exc)
        return None


def _no_rate(context: Context, label: str) -> tuple[SignalStatus, str]:
    quote = quote_of(context.symbol)
    return S.REJECTED, (
        f"{label}: {context.symbol} is priced in {quote}; turning the USD capital into {quote} needs "
        f"the price of {rate_symbol(quote)} on {context.exchange}, which could not be read. "
        f"Nothing was placed; send the alert again once that market answers."
    )


# --- Phase 2: the decision, under the user's lock ---------------------------------------------


def _decide(
    signal: Signal, context: Context, risk: RiskConfig, after: AfterCommit, *, promoted: bool, force: bool
) -> tuple[SignalStatus, str]:
    alert = context.alert
    if not alert.intent:  # auto: the strategy's order did not change its position
        return S.IGNORED, "Nothing was placed or closed."
    if alert.intent == Signal.Intent.EXIT:
        return _exit(signal, context, after, side=alert.side, reason=ExitReason.EXIT_SIGNAL)
    if alert.intent == Signal.Intent.REDUCE:
        return _reduce(signal, context, after)
    if alert.intent == Signal.Intent.REVERSE:
        opposite = Side.SHORT if alert.side == Side.LONG else Side.LONG
        closes_before = len(after.closes)
        exit_status, exit_reason = _exit(signal, context, after, side=opposite, reason=ExitReason.REVERSE)
        status, reason = _entry(signal, context, risk, after, promoted=promoted, force=force)
        if len(after.closes) > closes_before:
            # Close before open: this side's grid waits for the opposite side's close to fill
            # (pyramid_submit checks; the close's end submits it, or fails it if the close failed).
            close = after.closes[-1]
            Pyramid.objects.filter(pk__in=after.submit_pyramid_ids).update(after_close_of_id=close.group_id)
            close.then_submit.extend(after.submit_pyramid_ids)
            after.submit_pyramid_ids.clear()
        if status in (S.OPENED, S.PYRAMIDED):
            return S.REVERSED, f"{exit_reason} Then: {reason}"
        return status, f"{exit_reason} Then: {reason}"
    return _entry(signal, context, risk, after, promoted=promoted, force=force)


def _identity(signal: Signal, context: Context, side: str) -> dict:
    return {
        "user": signal.user,
        "exchange": context.exchange,
        "symbol": context.symbol,
        "timeframe": context.alert.timeframe,
        "side": side,
    }


def _exit(signal, context, after, *, side: str, reason: str) -> tuple[SignalStatus, str]:
    label = position_label(side, context.symbol, context.alert.timeframe)
    dropped = _drop_queued(signal, context, side)
    group = lock_active_group(**_identity(signal, context, side))
    if group is None:
        if dropped:
            return S.EXITED, f"Dropped the queued {label} entry; no open position to close."
        return S.IGNORED, f"No open {label} position to exit."
    if group.status == GroupStatus.CLOSING:
        return S.IGNORED, f"The {label} position is already closing."
    position_close_request(group=group, reason=reason)
    Signal.objects.filter(pk=signal.pk).update(position_group=group)
    after.closes.append(Close(group.pk, reason))
    return S.EXITED, f"Closing the {label} position: orders cancelled, held quantity market-closed."


def _drop_queued(signal, context, side: str) -> bool:
    entry = lock_queued_signal_for(
        user=signal.user, exchange=context.exchange, symbol=context.symbol, timeframe=context.alert.timeframe, side=side
    )
    if entry is None:
        return False
    queue_resolve(
        entry,
        status=QueuedSignal.Status.CANCELLED,
        reason=f"Dropped by exit signal {signal.pk}.",
        signal_status=S.IGNORED,
    )
    return True


def _reduce(signal, context, after) -> tuple[SignalStatus, str]:
    alert = context.alert
    label = position_label(alert.side, context.symbol, alert.timeframe)
    group = lock_active_group(**_identity(signal, context, alert.side))
    if group is None:
        return S.IGNORED, f"No open {label} position to reduce."
    if group.status == GroupStatus.CLOSING:
        return S.IGNORED, f"The {label} position is closing."
    if not alert.order_size or alert.order_size <= 0:
        return S.REJECTED, "A reduce alert needs tv.order_size (how much to close)."
    price = alert.close_price or alert.entry_price
    quantity = alert.order_size / price if alert.position_size_type == "quote" else alert.order_size
    share = ""
    if alert.derivation is not None:
        # The strategy's contracts are its own position's, not this one's (sized by the configuration,
        # or by the alert but with legs still resting): the share of its position the strategy closed
        # is what carries over. Where this position holds exactly the strategy's size, that share is
        # the strategy's difference in base units.
        held = group.total_filled_quantity
        if not held:
            return S.IGNORED, (
                f"Nothing of the {label} position has filled yet: nothing to reduce (its resting legs stay)."
            )
        quantity = round_to_step(held * alert.derivation.fraction, context.market.step_size)
        share = (
            f" ({_percent(alert.derivation.fraction)} of the {held.normalize():f} held, the share the strategy closed)"
        )
        if not quantity:
            return S.IGNORED, (
                f"{_percent(alert.derivation.fraction)} of the {held.normalize():f} held in the {label} "
                f"position is less than one lot ({context.market.step_size.normalize():f}): nothing "
                f"to reduce."
            )
    Signal.objects.filter(pk=signal.pk).update(position_group=group)
    if quantity >= group.total_filled_quantity:
        position_close_request(group=group, reason=ExitReason.REDUCE)
        after.closes.append(Close(group.pk, ExitReason.REDUCE))
        return S.REDUCED, f"Reducing {quantity.normalize():f} covers the whole {label} position: closing it."
    after.closes.append(Close(group.pk, ExitReason.REDUCE, quantity, request_key=f"signal-{signal.pk}"))
    return S.REDUCED, f"Market-closing {quantity.normalize():f} of the {label} position{share}."


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).quantize(Decimal('0.01')).normalize():f}%"


def _entry(signal, context, risk: RiskConfig, after, *, promoted: bool, force: bool) -> tuple[SignalStatus, str]:
    alert = context.alert
    label = f"{position_label(alert.side, context.symbol, alert.timeframe)} on {context.exchange}"
    if alert.side == Side.SHORT and (
        context.account_market_type != ExchangeAccount.MarketType.SWAP or context.market.type == "spot"
    ):
        # A spot "short" sells coins the account holds (another position's included) and buys them back.
        return S.REJECTED, (
            f"{label}: shorting needs a swap account (perpetual futures); {context.account_name} trades spot, "
            f"where a sell can only sell coins you hold. Nothing was placed: send the short to your swap account "
            f"(a .P ticker, or its label in execution_intent.account)."
        )
    group = lock_active_group(**_identity(signal, context, alert.side))
    if group is not None:
        return _pyramid(signal, context, risk, after, group, label, promoted=promoted, force=force)
    config = dca_config_for(
        user=signal.user, exchange=context.exchange, symbol=context.symbol, timeframe=alert.timeframe
    )
    if config is None:
        return S.REJECTED, (
            f"No DCA configuration for {context.symbol} {alert.timeframe}m on {context.exchange}: "
            f"add one in Settings → DCA (or a {context.exchange} default with pair *)."
        )
    if context.settings_refusal:
        return S.REJECTED, f"{label}: {context.settings_refusal}"
    if context.market_type == "swap" and context.position_mode != "hedge":
        opposite = (
            active_groups(signal.user)
            .filter(exchange_account_id=context.account_id, symbol=context.symbol)
            .exclude(side=alert.side)
            .exclude(status=GroupStatus.CLOSING)
            .first()
        )
        if opposite is not None:
            # One-way mode holds one position per symbol: this side's entries would close the other group's.
            return S.REJECTED, (
                f"{label}: {context.account_name} is in one-way mode and holds the {opposite.side} "
                f"{context.symbol} {opposite.timeframe}m position; a {alert.side} would net against it. Nothing "
                f"was placed: close that position first, or switch the account to hedge mode on the exchange."
            )
    if context.quote_usd_rate is None:
        return _no_rate(context, label)
    sizing = _sizing(
        context,
        capital_usd=config.capital_usd,
        use_signal_size=config.use_signal_size,
        quote_usd_rate=context.quote_usd_rate,
    )
    capital = sizing.capital
    capital_usd = capital * context.quote_usd_rate
    levels = parse_levels(config.pyramid_levels.get("0") or config.levels)
    try:
        legs = _plan(alert, context, levels, capital)
    except GridError as exc:
        return S.REJECTED, f"{label}: {exc}"
    leverage = _leverage_choice(context, config.leverage, legs) if context.market_type == "swap" else None
    if leverage is not None:
        closed_first = [close.group_id for close in after.closes if close.quantity is None]  # a reverse's
        conflict = _settings_conflict(
            context, leverage.leverage, config.leverage, config.margin_mode, closed_first=closed_first
        )
        if conflict:
            return S.REJECTED, f"{label}: {conflict}"
    decision = _slot(signal.user, risk, context, capital_usd, opens_position=True, bypass=force)
    if not decision.granted:
        return _queue(signal, context, risk, alert.side, False, decision, promoted=promoted)
    group, pyramid = position_open(
        signal=signal,
        account_id=context.account_id,
        exchange=context.exchange,
        symbol=context.symbol,
        alert=alert,
        config=config,
        levels=levels,
        capital_usd=capital_usd,
        quote_usd_rate=context.quote_usd_rate,
        legs=legs,
        sizing=sizing.note,
        market_type=context.market_type,
        position_mode=context.position_mode,
        leverage=leverage,
    )
    after.submit_pyramid_ids.append(pyramid.pk)
    note = f" {leverage.note[:1].upper()}{leverage.note[1:]}." if leverage is not None and leverage.note else ""
    return S.OPENED, (
        f"Opened {label}: {len(legs)} legs from {legs[0].price.normalize():f}, pyramid "
        f"1/{group.max_pyramids}. Size: {sizing.note}.{note}"
    )


def _settings_conflict(
    context: Context, leverage: int, configured: int, margin_mode: str, *, closed_first: list
) -> str:
    """Under the user's routing lock (which every new group of the account passes): why a new swap group cannot
    trade ``leverage`` (its ``configured`` one after the tier cap) and ``margin_mode`` ("" when it can). The
    exchange holds one leverage and margin mode per account and symbol, shared by every order and position there:
    while another of the engine's non-terminal groups on the symbol trades other settings, setting them would move
    that group's resting orders and position (Binance and Bybit accept a leverage change then). Read from the
    database only, so two alerts routed before the first one's grid reaches the exchange still see each other.
    ``closed_first``: groups this signal closes before its grid goes out (a reverse's), which do not count."""
    others = (
        groups_on_symbol(context.account_id, context.symbol)
        .filter(config_snapshot__market_type="swap")
        .exclude(pk__in=closed_first)
    )
    for other in others.order_by("created_at", "pk"):
        snapshot = other.config_snapshot or {}
        theirs = f"{int(snapshot.get('leverage') or 1)}x {snapshot.get('margin_mode') or 'isolated'}"
        if theirs == f"{int(leverage)}x {margin_mode}":
            continue
        capped = f" (its {configured}x capped by the exchange's tier)" if leverage != configured else ""
        held = position_label(other.side, other.symbol, other.timeframe)
        return (
            f"its DCA configuration trades {leverage}x {margin_mode}{capped} but the {held} position on "
            f"{context.account_name} trades {theirs}, and leverage and margin mode are one setting per symbol on the "
            f"exchange: changing them would move that position's orders too. Nothing was placed: close that "
            f"position first, or give the configuration {theirs}."
        )
    return ""


def _pyramid(
    signal, context, risk, after, group: PositionGroup, label: str, *, promoted: bool, force: bool
) -> tuple[SignalStatus, str]:
    alert = context.alert
    if group.status == GroupStatus.CLOSING:
        return S.IGNORED, f"The {label} position is closing; pyramid ignored."
    if group.pyramid_count >= group.max_pyramids:
        logger.warning("max pyramids reached for group %s: signal %s ignored", group.pk, signal.pk)
        return (
            S.IGNORED,
            f"Max pyramids reached ({group.pyramid_count}/{group.max_pyramids}) for {label}: signal ignored.",
        )
    snapshot = group.config_snapshot
    index = group.pyramid_count
    config_capital = Decimal(snapshot["capital_usd"])
    if context.quote_usd_rate is None:
        return _no_rate(context, label)
    sizing = _sizing(
        context,
        capital_usd=config_capital,
        use_signal_size=snapshot["use_signal_size"],
        quote_usd_rate=context.quote_usd_rate,
    )
    capital = sizing.capital
    capital_usd = capital * context.quote_usd_rate
    levels = parse_levels(snapshot["pyramid_levels"].get(str(index)) or snapshot["levels"])
    try:
        legs = _plan(alert, context, levels, capital)
    except GridError as exc:
        return S.REJECTED, f"{label} pyramid {index + 1}: {exc}"
    bypass = force or risk.priority_rules.get("same_pair_timeframe", True)
    decision = _slot(signal.user, risk, context, capital_usd, opens_position=False, bypass=bypass)
    if not decision.granted:
        return _queue(signal, context, risk, alert.side, True, decision, promoted=promoted)
    pyramid = pyramid_add(
        group=group, signal=signal, alert=alert, levels=levels, capital_usd=capital_usd, legs=legs, sizing=sizing.note
    )
    after.submit_pyramid_ids.append(pyramid.pk)
    return S.PYRAMIDED, (
        f"Pyramid {index + 1}/{group.max_pyramids} on {label}: {len(legs)} legs from "
        f"{legs[0].price.normalize():f}. Size: {sizing.note}."
    )


def _sizing(context: Context, *, capital_usd: Decimal, use_signal_size: bool, quote_usd_rate: Decimal) -> Sizing:
    alert, market = context.alert, context.market
    return pyramid_sizing(
        capital_usd=capital_usd,
        use_signal_size=use_signal_size,
        order_size=alert.order_size,
        size_type=alert.position_size_type,
        entry_price=alert.entry_price,
        quote_usd_rate=quote_usd_rate,
        base=market.base,
        quote=market.quote,
    )


def _plan(alert: Alert, context: Context, levels, capital):
    market = context.market
    precision = Precision(market.tick_size, market.step_size, market.min_qty, market.min_notional)
    return plan_grid(side=alert.side, base_price=alert.entry_price, levels=levels, capital=capital, precision=precision)


def _slot(
    user, risk: RiskConfig, context: Context, capital_usd: Decimal, *, opens_position: bool, bypass: bool = False
) -> SlotDecision:
    """Pool check. A pyramid with the same_pair_timeframe rule on bypasses the pool (not force-stop)."""
    limits = PoolLimits(
        risk.max_open_positions_global,
        risk.max_open_positions_per_symbol,
        risk.max_total_exposure_usd,
        risk.max_realized_loss_usd,
        force_stopped=risk.engine_force_stopped,
    )
    if bypass:
        return SlotDecision(
            not risk.engine_force_stopped, "the engine is force-stopped" if risk.engine_force_stopped else ""
        )
    groups = active_groups(user)
    loss_usd = realized_loss_today_usd(user)
    daily_loss_breaker(risk, user=user, loss_usd=loss_usd)  # the pool refuses the entry below when it is hit
    usage = PoolUsage(
        open_positions=groups.count(),
        open_on_symbol=groups.filter(symbol=context.symbol).count(),
        exposure_usd=committed_exposure_usd(user),
        realized_loss_today_usd=loss_usd,
    )
    return slot_decision(
        limits, usage, new_exposure_usd=capital_usd, symbol=context.symbol, opens_position=opens_position
    )


def _queue(signal, context, risk, side, is_continuation, decision, *, promoted: bool) -> tuple[SignalStatus, str]:
    if promoted:  # still no slot: the entry keeps its place, its signal stays queued
        return S.QUEUED, f"Still queued: {decision.reason}."
    entry = queue_signal(
        signal=signal,
        symbol=context.symbol,
        side=side,
        is_pyramid_continuation=is_continuation,
        reason=decision.reason,
        ttl_minutes=risk.queue_ttl_minutes,
    )
    return S.QUEUED, f"Queued ({entry.replacement_count} replacement(s)): {decision.reason}."

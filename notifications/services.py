"""Turning domain events into Telegram messages, and delivering them.

``notification_prepare`` (run by ``notify_event_task``) loads the rows, asks ``rules`` whether and
how to send, renders the text with ``formatting`` and stores a ``Notification`` row: pending (to
send or edit), or skipped with the reason. ``notification_deliver`` (run by
``notification_send_task``) makes one attempt, outside any transaction, and records the outcome.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import formatting, rules, telegram
from notifications.models import Notification, TelegramConfig
from trading.states import GROUP_HOLDING_STATUSES

logger = logging.getLogger(__name__)

N = Notification.EventType
ROLE_EVENTS = {"entry": rules.DCA_FILL, "take_profit": rules.TP_HIT}  # exit fills are told by the exit message


def display_options(config: TelegramConfig) -> formatting.DisplayOptions:
    return formatting.DisplayOptions(
        config.show_unrealized_pnl, config.show_invested_amount, config.show_duration, config.engine_signature or ""
    )


def rules_for(config: TelegramConfig) -> rules.Rules:
    return rules.Rules(
        toggles={name: getattr(config, name) for name in set(rules.TOGGLES.values())},
        update_existing_message=config.update_existing_message,
        update_on_pyramid=config.update_on_pyramid,
        quiet_hours_enabled=config.quiet_hours_enabled,
        quiet_hours_start=config.quiet_hours_start,
        quiet_hours_end=config.quiet_hours_end,
        quiet_hours_urgent_only=config.quiet_hours_urgent_only,
        time_zone=getattr(config.user, "time_zone", "UTC"),
    )


def position_view(group, *, now=None) -> formatting.PositionView:
    from trading.models import Order
    from trading.states import OrderStatus

    now = now or timezone.now()
    legs: dict[int, list] = {}
    entries = group.orders.filter(role=Order.Role.ENTRY).exclude(status=OrderStatus.FAILED, filled_quantity=0)
    for order in entries.select_related("pyramid").order_by("pyramid__index", "leg_index"):
        legs.setdefault(order.pyramid.index, []).append(
            formatting.LegView(
                weight_percent=order.weight_percent or Decimal(0),
                price=order.price or order.avg_fill_price or Decimal(0),
                tp_price=order.tp_price,
                filled=order.status == OrderStatus.FILLED
                or (order.status == OrderStatus.CANCELLED and order.filled_quantity > 0),
            )
        )
    return formatting.PositionView(
        group_id=str(group.pk),
        side=group.side,
        exchange=group.exchange,
        symbol=group.symbol,
        timeframe_minutes=group.timeframe,
        status=group.status,
        filled_legs=group.filled_dca_legs,
        total_legs=group.total_dca_legs,
        pyramid_count=group.pyramid_count,
        max_pyramids=group.max_pyramids,
        tp_mode=group.tp_mode,
        tp_aggregate_percent=group.tp_aggregate_percent,
        invested_usd=group.total_invested_usd,
        unrealized_pnl_percent=group.unrealized_pnl_percent,
        unrealized_pnl_usd=group.unrealized_pnl_usd,
        weighted_avg_entry=group.weighted_avg_entry,
        base_entry_price=group.base_entry_price,
        open_for=(group.closed_at or now) - group.created_at,
        pyramids=[formatting.PyramidView(index, ladder) for index, ladder in sorted(legs.items())],
    )


def _card_message(group) -> Notification | None:
    """The group's position card: its entry (or pyramid) message, or the latest edit of it."""
    return (
        Notification.objects.filter(group=group, status=Notification.Status.SENT, telegram_message_id__isnull=False)
        .filter(Q(event_type__in=[N.ENTRY, N.PYRAMID]) | Q(is_edit=True))
        .order_by("-created_at")
        .first()
    )


IN_FLIGHT = [Notification.Status.PENDING, Notification.Status.RETRYING]


def _card_in_flight(group) -> Notification | None:
    return (
        Notification.objects.filter(group=group, status__in=IN_FLIGHT)
        .filter(Q(event_type__in=[N.ENTRY, N.PYRAMID]) | Q(is_edit=True))
        .order_by("-created_at")
        .first()
    )


# --- From an event to Notification rows -----------------------------------------------------


def notification_prepare(
    *, event_type: str, user_id, group_id=None, data: dict | None = None, now=None
) -> list[Notification]:
    """Store what this event should send (pending) or why it sends nothing (skipped).

    Returns the pending rows, to be delivered by ``notification_send_task``.
    """
    from trading.models import PositionGroup

    data = data or {}
    now = now or timezone.now()
    group = PositionGroup.objects.select_related("user").filter(pk=group_id).first() if group_id else None
    if user_id is None and group is not None:
        user_id = group.user_id
    config = TelegramConfig.objects.select_related("user").filter(user_id=user_id).first()
    if config is None or not config.enabled or not config.bot_token or not config.channel_id:
        return []
    if event_type == "pnl":
        return _thresholds(config, group, now) if group is not None else []
    if event_type == "order_filled":
        role_event = ROLE_EVENTS.get(data.get("role", ""))
        if role_event is None or group is None:
            return []
        event_type = role_event
    if group is None and event_type != rules.FAILURE:
        return []
    card = _card_message(group) if group is not None else None
    in_flight = _card_in_flight(group) if group is not None else None
    decision = rules.decide(
        event_type, rules_for(config), now=now, has_group_message=card is not None or in_flight is not None
    )
    options = display_options(config)
    view = position_view(group, now=now) if group is not None else None
    # An edit is decided only when the group has a card (sent or in flight), so with a view of the group.
    if decision.action == rules.EDIT and in_flight is not None and view is not None:
        # The card itself is still on its way (e.g. waiting out a 429): bring its text up to date
        # rather than racing it with an edit of a message that does not exist yet.
        render = (
            formatting.format_pyramid_added
            if in_flight.event_type == N.PYRAMID and not in_flight.is_edit
            else (formatting.format_position)
        )
        text = render(view, options)
        Notification.objects.filter(pk=in_flight.pk, status__in=IN_FLIGHT).update(text=text)
        return []
    message_id = None
    if decision.action == rules.EDIT and card is not None and view is not None:
        text = formatting.format_position(view, options)
        if text == card.text:
            return []  # nothing visible changed (two events from one fill)
        message_id = card.telegram_message_id
    else:
        text = _render(event_type, view, options, data, group)
    notification = Notification.objects.create(
        user_id=user_id,
        group=group,
        event_type=event_type,
        is_urgent=event_type in rules.URGENT,
        is_edit=decision.action == rules.EDIT,
        text=text,
        chat_id=config.channel_id,
        telegram_message_id=message_id,
        status=Notification.Status.SKIPPED if decision.action == rules.SKIP else Notification.Status.PENDING,
        error=decision.reason,
    )
    return [notification] if notification.status == Notification.Status.PENDING else []


def _render(event_type: str, view, options, data: dict, group) -> str:
    if event_type == rules.ENTRY:
        return formatting.format_position(view, options)
    if event_type == rules.PYRAMID:
        return formatting.format_pyramid_added(view, options)
    if event_type == rules.STATUS:
        return formatting.format_status_change(
            view,
            options,
            from_status=data.get("from_status", ""),
            to_status=data.get("to_status", group.status),
            reason=data.get("reason", ""),
        )
    if event_type in (rules.DCA_FILL, rules.TP_HIT):
        order = group.orders.select_related("pyramid", "entry_order").filter(pk=data.get("order_id")).first()
        price = (order.avg_fill_price or order.price) if order else Decimal(0)
        quantity = order.filled_quantity if order else Decimal(0)
        if event_type == rules.DCA_FILL:
            return formatting.format_dca_fill(
                view,
                options,
                pyramid_index=order.pyramid.index if order and order.pyramid else 0,
                leg_index=order.leg_index or 0 if order else 0,
                fill_price=price,
                quantity=quantity,
            )
        pnl = None
        entry = order.entry_order if order else None
        if entry is not None and entry.avg_fill_price:
            from trading.models import Side

            direction = 1 if group.side == Side.LONG else -1
            pnl = (price - entry.avg_fill_price) * quantity * direction
        return formatting.format_tp_hit(view, options, price=price, quantity=quantity, pnl_usd=pnl)
    if event_type == rules.EXIT:
        return formatting.format_exit(view, _exit_view(group, data.get("reason", "")), options)
    if event_type == rules.RISK:
        return formatting.format_risk_event(view, options, event=data.get("event", ""), detail=_risk_detail(data))
    if event_type == rules.FAILURE:
        return formatting.format_failure(options, message=data.get("message", "Something failed."), position=view)
    raise ValueError(f"unknown notification event {event_type!r}")


def _risk_detail(data: dict) -> str:
    event = data.get("event")
    if event == "timer_started" and data.get("wait_minutes") is not None:
        return f"Eligible for a loss offset in {data['wait_minutes']} min unless it recovers."
    if event == "timer_expired":
        return "The risk engine may close it, paid for by the best winners."
    if event == "offset_executed" and data.get("required_usd") is not None:
        covered, required = Decimal(data["covered_usd"]), Decimal(data["required_usd"])
        return f"Closing it; winners cover {covered:,.2f} of the {required:,.2f} USD loss."
    return data.get("detail", "")


def _exit_view(group, reason: str) -> formatting.ExitView:
    from trading.models import ExitReason, JournalEntry

    record = JournalEntry.objects.filter(group=group, kind=JournalEntry.Kind.CLOSE).order_by("-created_at").first()
    reason = reason or group.exit_reason
    label = ExitReason(reason).label if reason in ExitReason.values else (reason or "Closed")
    return formatting.ExitView(
        reason=label,
        realized_pnl_usd=group.realized_pnl_usd,
        realized_pnl_percent=record.pnl_percent if record else None,
        entry_price=record.entry_price if record else group.weighted_avg_entry,
        exit_price=record.exit_price if record else None,
        funding_pnl_usd=group.funding_pnl_usd,
    )


def _thresholds(config: TelegramConfig, group, now) -> list[Notification]:
    """Loss/profit alerts, once per crossing; the last 'crossed'/'cleared' row of each kind is the memory."""
    pending: list[Notification] = []
    if group.status not in GROUP_HOLDING_STATUSES or not group.filled_dca_legs:
        return pending
    with transaction.atomic():
        # The fill path and the sweep may check the same group at once: one at a time per trader,
        # so a crossing is recorded once.
        TelegramConfig.objects.select_for_update().filter(pk=config.pk).first()
        pending = _threshold_steps(config, group, now)
    return pending


def _threshold_steps(config: TelegramConfig, group, now) -> list[Notification]:
    pending = []
    for kind, threshold in (
        ("loss", config.alert_loss_threshold_percent),
        ("profit", config.alert_profit_threshold_percent),
    ):
        last = (
            Notification.objects.filter(group=group, event_type=N.THRESHOLD, topic__startswith=f"{kind}:")
            .order_by("-created_at")
            .values_list("topic", flat=True)
            .first()
        )
        step = rules.threshold_crossing(
            kind, group.unrealized_pnl_percent, threshold, last.split(":")[1] if last else None
        )
        if step is None:
            continue
        if step == "cleared":
            Notification.objects.create(
                user_id=group.user_id,
                group=group,
                event_type=N.THRESHOLD,
                topic=f"{kind}:cleared",
                status=Notification.Status.SKIPPED,
                chat_id=config.channel_id,
                error="back within the threshold: re-armed",
                text=f"{kind} alert re-armed at {group.unrealized_pnl_percent:.2f}%",
            )
            continue
        assert threshold is not None  # threshold_crossing answers None when the alert has no threshold
        decision = rules.decide(rules.THRESHOLD, rules_for(config), now=now, has_group_message=False)
        text = formatting.format_threshold(
            position_view(group, now=now), display_options(config), kind=kind, threshold=threshold
        )
        notification = Notification.objects.create(
            user_id=group.user_id,
            group=group,
            event_type=N.THRESHOLD,
            topic=f"{kind}:crossed",
            text=text,
            chat_id=config.channel_id,
            error=decision.reason,
            status=Notification.Status.SKIPPED if decision.action == rules.SKIP else Notification.Status.PENDING,
        )
        if notification.status == Notification.Status.PENDING:
            pending.append(notification)
    return pending


def threshold_sweep(*, now=None) -> list[Notification]:
    """Check every open, filled position of traders who set a loss or profit alert.

    Prices move without fills, and the price sync does not tell notifications about each tick, so
    this runs on a beat schedule; one query finds the positions to check.
    """
    from trading.models import PositionGroup

    groups = (
        PositionGroup.objects.select_related("user")
        .filter(status__in=GROUP_HOLDING_STATUSES, filled_dca_legs__gt=0, user__telegram_config__enabled=True)
        .filter(
            Q(user__telegram_config__alert_loss_threshold_percent__isnull=False)
            | Q(user__telegram_config__alert_profit_threshold_percent__isnull=False)
        )
    )
    pending = []
    for group in groups:
        pending += notification_prepare(event_type="pnl", user_id=group.user_id, group_id=group.pk, now=now)
    return pending


# --- Delivery ---------------------------------------------------------------------------------


def notification_deliver(*, notification_id) -> telegram.TelegramResult | None:
    """One attempt at sending (or editing) a pending notification; records the outcome.

    Returns Telegram's answer (None when there was nothing to do). An edit whose message is gone
    becomes a new message. A permanent refusal is stored on the notification and, so the trader
    sees it in settings, on their TelegramConfig.
    """
    notification = Notification.objects.select_related("user__telegram_config").get(pk=notification_id)
    if notification.status not in (Notification.Status.PENDING, Notification.Status.RETRYING):
        return None
    config = notification.user.telegram_config
    if not config.bot_token:
        _record(notification, None, permanent_error="No bot token configured.", config=config)
        return None
    Notification.objects.filter(pk=notification.pk).update(attempts=F("attempts") + 1)
    chat_id = notification.chat_id or config.channel_id
    result = None
    if notification.is_edit and notification.telegram_message_id:
        result = telegram.edit_message_text(
            config.bot_token, chat_id, notification.telegram_message_id, notification.text
        )
        if result.not_modified:
            result = telegram.TelegramResult(ok=True, message_id=notification.telegram_message_id, status_code=200)
        elif result.message_gone:
            # Deleted in the channel, or too old to edit: post the card again as a new message.
            Notification.objects.filter(pk=notification.pk).update(is_edit=False, telegram_message_id=None)
            notification.is_edit = False
            result = None
    if result is None:
        result = telegram.send_message(config.bot_token, chat_id, notification.text)
    _record(notification, result, config=config)
    return result


def _record(notification: Notification, result, *, config: TelegramConfig, permanent_error: str = "") -> None:
    now = timezone.now()
    with transaction.atomic():
        if result is not None and result.ok:
            Notification.objects.filter(pk=notification.pk).update(
                status=Notification.Status.SENT,
                sent_at=now,
                error="",
                telegram_message_id=result.message_id or notification.telegram_message_id,
            )
            if config.last_error:  # a working delivery means the trader fixed it
                TelegramConfig.objects.filter(pk=config.pk).update(last_error="", last_error_at=None)
            return
        if result is not None and result.retryable:
            wait = f"; retrying in {result.retry_after} s as Telegram asked" if result.retry_after else ""
            Notification.objects.filter(pk=notification.pk).update(
                status=Notification.Status.RETRYING, error=f"{result.description}{wait}"
            )
            return
        message = permanent_error or _permanent_message(result)
        Notification.objects.filter(pk=notification.pk).update(status=Notification.Status.FAILED, error=message)
        TelegramConfig.objects.filter(pk=config.pk).update(last_error=message, last_error_at=now)


def _permanent_message(result: telegram.TelegramResult) -> str:
    hints = {
        401: "the bot token is wrong (create a new one with @BotFather)",
        403: "the bot cannot post there (add it to the channel as an admin)",
        400: "check the channel id (@channelname or -100…)",
    }
    hint = hints.get(result.status_code, "") if result.status_code is not None else ""
    return f"Telegram refused the message ({result.status_code}: {result.description})" + (
        f": {hint}." if hint else "."
    )


def notification_give_up(*, notification_id, reason: str) -> None:
    Notification.objects.filter(
        pk=notification_id, status__in=[Notification.Status.PENDING, Notification.Status.RETRYING]
    ).update(status=Notification.Status.FAILED, error=reason)


def telegram_test_send(*, config: TelegramConfig) -> telegram.TelegramResult:
    """Send a test message now (the settings page's button) and report Telegram's answer."""
    if not config.bot_token or not config.channel_id:
        return telegram.TelegramResult(ok=False, description="Set the bot token and channel id first.")
    notification = Notification.objects.create(
        user=config.user,
        event_type=N.TEST,
        chat_id=config.channel_id,
        text=formatting.format_test(display_options(config), channel_name=config.channel_name),
    )
    result = notification_deliver(notification_id=notification.pk)
    if result is None:  # not reached: a pending notification with a bot token is always attempted
        return telegram.TelegramResult(ok=False, description="Nothing was sent.")
    return result

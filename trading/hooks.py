"""Moments of a position's life that higher layers act on, without the trading services importing them.

``close_ended`` is sent (after commit) when a group's close ended: ``closed`` True when it closed,
False when the exchange refused the close (``reason`` says why). The risk engine releases or
cancels the winners of a loss offset that waited on it (``risk.receivers``).

``fills_synced`` is sent when a fill sync of one exchange account changed positions (new fills
applied). The risk engine evaluates the account's trader at once when their ``evaluate_on_fill`` is
on (``risk.receivers``).
"""

from django.dispatch import Signal

close_ended = Signal()  # sender: PositionGroup class; group_id, closed, reason
fills_synced = Signal()  # sender: ExchangeAccount class; account_id, user_id

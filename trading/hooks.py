"""Moments of a position's life that higher layers act on, without the trading services importing them.

``close_ended`` is sent (after commit) when a group's close ended: ``closed`` True when it closed,
False when the exchange refused the close (``reason`` says why). The risk engine releases or
cancels the winners of a loss offset that waited on it (``risk.receivers``).
"""

from django.dispatch import Signal

close_ended = Signal()  # sender: PositionGroup class; group_id, closed, reason

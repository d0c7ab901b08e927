"""The trading app's domain errors: what a trader asked of a position or a queue entry that its present
state refuses. Services raise them; pages and the API map them once (``core.errors``)."""

from core.errors import DomainError
from trading.models import PositionGroup, QueuedSignal
from trading.states import GroupStatus


class PositionNotClosable(DomainError):
    """A manual close of a position already closing, closed or failed."""

    def __init__(self, group: PositionGroup):
        self.group = group
        label = group.label_on_exchange
        if group.status == GroupStatus.CLOSING:
            message = f"The {label} is already closing; its close order is on its way."
        elif group.status == GroupStatus.CLOSED:
            message = f"The {label} is already closed: there is nothing to close."
        else:
            message = f"The {label} failed before any order reached the exchange: there is nothing to close."
        super().__init__(message)


class QueueEntryNotQueued(DomainError):
    """A remove or promote of a queue entry that has left the queue (promoted, expired or removed)."""

    def __init__(self, entry: QueuedSignal):
        self.entry = entry
        super().__init__(f"{entry.label} had already left the queue ({entry.get_status_display().lower()}).")

    @property
    def api_detail(self) -> str:
        # The API's wording predates the pages' and scripts may match it: kept as it was.
        detail = f"This entry is no longer queued: it was {self.entry.status}"
        return detail + (f" ({self.entry.status_reason})." if self.entry.status_reason else ".")


class DCAConfigurationClash(DomainError):
    """A DCA configuration save that lost the unique constraint (user, exchange, pair, timeframe) to a
    concurrent save after its own check; the message names the configuration that won when it can."""

"""The risk app has no models of its own any more: the per-user pool and risk settings (``RiskConfig``)
and the engine's journal (``JournalEntry``, once ``RiskAction``) live in ``trading.models``.

These names stay importable from here for the app's historical migrations (``0001_initial`` names
``risk.models.default_priority_rules``) and for code written against the old home; new code imports
them from ``trading.models``.
"""

from trading.models import PRIORITY_RULES, RiskConfig, default_priority_rules

__all__ = ["PRIORITY_RULES", "RiskConfig", "default_priority_rules"]

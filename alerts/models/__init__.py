from alerts.models.rules import AlertRule, AlertRuleVersion
from alerts.models.silences import Silence
from alerts.models.states import AlertState, AlertTransition

__all__ = ["AlertRule", "AlertRuleVersion", "AlertState", "AlertTransition", "Silence"]

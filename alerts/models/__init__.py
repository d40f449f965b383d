from alerts.models.incidents import (
    ExternalAlert,
    Incident,
    IncidentEvent,
    Notification,
    NotificationAttempt,
    ReceivedNotification,
    UsedLink,
)
from alerts.models.oncall import (
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    NotificationChannel,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from alerts.models.rules import AlertRule, AlertRuleVersion
from alerts.models.silences import Silence
from alerts.models.states import AlertState, AlertTransition

__all__ = [
    "AlertRule",
    "AlertRuleVersion",
    "AlertState",
    "AlertTransition",
    "ContactMethod",
    "EscalationPolicy",
    "EscalationStep",
    "ExternalAlert",
    "Incident",
    "IncidentEvent",
    "Notification",
    "NotificationAttempt",
    "NotificationChannel",
    "ReceivedNotification",
    "Schedule",
    "ScheduleLayer",
    "ScheduleOverride",
    "Silence",
    "UsedLink",
]

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "opsboard.audit"
    label = "audit"
    verbose_name = "Audit log"

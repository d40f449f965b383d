"""Create the four roles of the design brief."""

from django.db import migrations

ROLES = [
    ("viewer", "Viewer", "Sees everything except user management and secrets."),
    ("responder", "Responder", "Viewer, and acknowledges, resolves and comments on incidents, creates silences."),
    ("editor", "Editor", "Responder, and edits targets, alert rules, schedules, escalation policies and channels."),
    ("admin", "Admin", "Editor, and manages users, roles and API tokens, reads the full audit log."),
]


def create_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for slug, name, description in ROLES:
        Role.objects.update_or_create(slug=slug, defaults={"name": name, "description": description})


def remove_roles(apps, schema_editor):
    apps.get_model("accounts", "Role").objects.filter(slug__in=[slug for slug, _, _ in ROLES]).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_roles, remove_roles)]

"""Transport settings that are secrets (``url``, ``secret``, ``webhook_url``) stored
encrypted: the columns stay JSON (no schema change); existing plain values are encrypted,
and unapplying decrypts them again."""

from django.db import migrations

import opsboard.crypto

SECRET_KEYS = ["url", "secret", "webhook_url"]
COLUMNS = [("NotificationChannel", "config"), ("ContactMethod", "config"), ("Notification", "config")]


def encrypt_plain(apps, schema_editor):
    for model_name, field_name in COLUMNS:
        opsboard.crypto.bring_current(apps.get_model("alerts", model_name), field_name)


def decrypt(apps, schema_editor):
    for model_name, field_name in COLUMNS:
        opsboard.crypto.decrypt_stored(apps.get_model("alerts", model_name), field_name)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_notification_cancelled"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contactmethod",
                    name="config",
                    field=opsboard.crypto.EncryptedJSONField(default=dict, secret_keys=SECRET_KEYS),
                ),
                migrations.AlterField(
                    model_name="notification",
                    name="config",
                    field=opsboard.crypto.EncryptedJSONField(
                        help_text="The transport's settings at the time of the page.", secret_keys=SECRET_KEYS
                    ),
                ),
                migrations.AlterField(
                    model_name="notificationchannel",
                    name="config",
                    field=opsboard.crypto.EncryptedJSONField(
                        default=dict,
                        help_text="Settings of the kind; URLs and secrets are encrypted at rest and never shown back.",
                        secret_keys=SECRET_KEYS,
                    ),
                ),
            ],
        ),
        migrations.RunPython(encrypt_plain, decrypt),
    ]

"""Targets' request headers stored encrypted: the columns stay JSON (no schema change);
existing plain values are encrypted, and unapplying decrypts them again."""

from django.db import migrations

import opsboard.crypto

COLUMNS = [("ModelEndpoint", "headers"), ("GpuNode", "headers")]
HEADERS = opsboard.crypto.EncryptedJSONField(
    blank=True, default=dict, help_text="Request headers; their values are secrets, encrypted at rest."
)


def encrypt_plain(apps, schema_editor):
    for model_name, field_name in COLUMNS:
        opsboard.crypto.bring_current(apps.get_model("monitoring", model_name), field_name)


def decrypt(apps, schema_editor):
    for model_name, field_name in COLUMNS:
        opsboard.crypto.decrypt_stored(apps.get_model("monitoring", model_name), field_name)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0005_torchscript_kind"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="gpunode", name="headers", field=HEADERS.clone()),
                migrations.AlterField(model_name="modelendpoint", name="headers", field=HEADERS.clone()),
            ],
        ),
        migrations.RunPython(encrypt_plain, decrypt),
    ]

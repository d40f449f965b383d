"""Indexes on time for retention, which deletes by age across all series.

PostgreSQL gets BRIN indexes (tiny, and nearly free to maintain, because samples arrive
in time order); SQLite gets ordinary B-trees. Series rows are updated with every write
(last value), so PostgreSQL keeps free space in their pages for HOT updates.
"""

from django.db import migrations

POSTGRESQL = [
    "CREATE INDEX monitoring_sample_ts_brin ON monitoring_sample USING brin (ts)",
    "CREATE INDEX monitoring_rollup_bucket_brin ON monitoring_rollup USING brin (bucket)",
    "ALTER TABLE monitoring_series SET (fillfactor = 70)",
]
SQLITE = [
    "CREATE INDEX monitoring_sample_ts ON monitoring_sample (ts)",
    "CREATE INDEX monitoring_rollup_bucket ON monitoring_rollup (resolution, bucket)",
]
DROP = [
    "DROP INDEX IF EXISTS monitoring_sample_ts_brin",
    "DROP INDEX IF EXISTS monitoring_rollup_bucket_brin",
    "DROP INDEX IF EXISTS monitoring_sample_ts",
    "DROP INDEX IF EXISTS monitoring_rollup_bucket",
]


def create(apps, schema_editor):
    statements = POSTGRESQL if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    for statement in DROP:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]

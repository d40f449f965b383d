"""Raw samples partitioned by day on PostgreSQL (see monitoring/partitions.py).

The table is rebuilt as a partitioned one with the same columns, primary key (series_id,
ts: it holds the partition key, as PostgreSQL requires) and BRIN index on ts; one
partition is created per UTC day that holds samples, and the rows are copied into them.
The copy takes about as long as ingesting the rows did: plan a pause on a large store.
Unapplying copies them back into one plain table. SQLite keeps its plain table.

Names follow monitoring.partitions.name_of, written out here so that this migration
does not change if that module does.
"""

from datetime import date, timedelta

from django.db import migrations

DAY_MS = 86_400_000


def name_of(day):
    d = date(1970, 1, 1) + timedelta(days=day)
    return f"monitoring_sample_p{d.year:04d}{d.month:02d}{d.day:02d}"


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run("ALTER TABLE monitoring_sample RENAME TO monitoring_sample_flat", params=None)
    run("ALTER TABLE monitoring_sample_flat RENAME CONSTRAINT monitoring_sample_pkey TO monitoring_sample_flat_pkey", params=None)
    run("ALTER INDEX monitoring_sample_ts_brin RENAME TO monitoring_sample_flat_ts_brin", params=None)
    run(
        "CREATE TABLE monitoring_sample (ts bigint NOT NULL, value double precision NULL, series_id bigint NOT NULL, "
        "CONSTRAINT monitoring_sample_pkey PRIMARY KEY (series_id, ts)) PARTITION BY RANGE (ts)",
        params=None,
    )
    run("CREATE INDEX monitoring_sample_ts_brin ON monitoring_sample USING brin (ts)", params=None)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT floor(ts::numeric / {DAY_MS})::bigint FROM monitoring_sample_flat")
        days = sorted(row[0] for row in cursor.fetchall())
    for day in days:
        run(
            f"CREATE TABLE {name_of(day)} PARTITION OF monitoring_sample "
            f"FOR VALUES FROM ({day * DAY_MS}) TO ({(day + 1) * DAY_MS})",
            params=None,
        )
    run(
        "INSERT INTO monitoring_sample (ts, value, series_id) SELECT ts, value, series_id FROM monitoring_sample_flat",
        params=None,
    )
    run("DROP TABLE monitoring_sample_flat", params=None)
    run("ANALYZE monitoring_sample", params=None)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(
        "CREATE TABLE monitoring_sample_flat (ts bigint NOT NULL, value double precision NULL, series_id bigint NOT NULL)",
        params=None,
    )
    run(
        "INSERT INTO monitoring_sample_flat (ts, value, series_id) SELECT ts, value, series_id FROM monitoring_sample",
        params=None,
    )
    run("DROP TABLE monitoring_sample", params=None)  # and every partition with it
    run("ALTER TABLE monitoring_sample_flat RENAME TO monitoring_sample", params=None)
    run("ALTER TABLE monitoring_sample ADD CONSTRAINT monitoring_sample_pkey PRIMARY KEY (series_id, ts)", params=None)
    run("CREATE INDEX monitoring_sample_ts_brin ON monitoring_sample USING brin (ts)", params=None)
    run("ANALYZE monitoring_sample", params=None)


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0006_encrypt_headers")]
    operations = [migrations.RunPython(partition, unpartition)]

"""Label names and values present in the store, for /api/v1/labels and label pickers."""

from __future__ import annotations

from django.db import connection
from django.db.models.fields.json import KT

from monitoring.models import Series

_LABEL_NAMES_SQL = {
    "postgresql": "SELECT DISTINCT jsonb_object_keys(labels) FROM monitoring_series",
    "sqlite": "SELECT DISTINCT j.key FROM monitoring_series, json_each(monitoring_series.labels) AS j",
}


def label_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(_LABEL_NAMES_SQL[connection.vendor])
        names = {row[0] for row in cursor.fetchall()}
    return sorted(names | {"__name__"})


def label_values(name: str) -> list[str]:
    if name == "__name__":
        return sorted(Series.objects.values_list("name", flat=True).distinct())
    values = (
        Series.objects.filter(labels__has_key=name)
        .annotate(value=KT(f"labels__{name}"))
        .values_list("value", flat=True)
        .distinct()
    )
    return sorted(value for value in values if value is not None)

"""Rows of the time-series tables as numpy columns.

On PostgreSQL the rows come through a binary COPY and are read with one ``frombuffer``,
which is several times faster than building a Python tuple per row; on SQLite, through
an ordinary cursor. Every column is 8 bytes (bigint or double precision) and never NULL:
the queries given here COALESCE nullable values to NaN.
"""

from __future__ import annotations

import numpy as np
from django.db import connection

_COPY_HEADER = 19  # signature (11), flags (4), header-extension length (4)
_COPY_TRAILER = 2


def fetch_columns(sql: str, params: list[object], columns: dict[str, str]) -> dict[str, np.ndarray]:
    """Run ``sql`` (whose select list matches ``columns``: name → "int" or "float").

    Parameters use ``%s``; on PostgreSQL a list parameter may be used with ``= ANY(%s)``.
    """
    if connection.vendor == "postgresql":
        return _fetch_postgresql(sql, params, columns)
    return _fetch_sqlite(sql, params, columns)


def _fetch_postgresql(sql: str, params: list[object], columns: dict[str, str]) -> dict[str, np.ndarray]:
    statement = f"COPY ({sql}) TO STDOUT (FORMAT BINARY)"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(statement, params) as copy:
        data = b"".join(bytes(chunk) for chunk in copy)
    fields = [("n", ">i2")]
    for name, kind in columns.items():
        fields += [(f"{name}_len", ">i4"), (name, ">i8" if kind == "int" else ">f8")]
    dtype = np.dtype(fields)
    count = (len(data) - _COPY_HEADER - _COPY_TRAILER) // dtype.itemsize
    rows = np.frombuffer(data, dtype=dtype, count=count, offset=_COPY_HEADER)
    return {name: rows[name].astype(np.int64 if kind == "int" else np.float64) for name, kind in columns.items()}


def _fetch_sqlite(sql: str, params: list[object], columns: dict[str, str]) -> dict[str, np.ndarray]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out: dict[str, np.ndarray] = {}
    for index, (name, kind) in enumerate(columns.items()):
        if kind == "int":
            out[name] = np.fromiter((row[index] for row in rows), dtype=np.int64, count=len(rows))
        else:
            out[name] = np.array([row[index] for row in rows], dtype=np.float64)  # None → NaN
    return out


def in_list(column: str, values: list[int]) -> tuple[str, list[object]]:
    """``column = ANY(%s)`` on PostgreSQL, ``column IN (%s, …)`` on SQLite; (sql, params)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({','.join(['%s'] * len(values))})", list(values)

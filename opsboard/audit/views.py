"""The Admin's audit page and its CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from opsboard.accounts import roles
from opsboard.accounts.permissions import role_required
from opsboard.audit.chain import canonical_json
from opsboard.audit.filters import AuditFilterForm, filter_choices
from opsboard.audit.models import AuditEvent

PAGE_SIZE = 50
CSV_COLUMNS = ["id", "time", "actor", "actor_ip", "action", "object_type", "object_id", "object", "changes", "hash"]


@role_required(roles.ADMIN)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.select_related("actor")
    if form.is_bound and form.is_valid():
        events = form.apply(events)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), **filter_choices()}
    return render(request, "audit/list.html", context, status=400 if form.errors else 200)


@role_required(roles.ADMIN)
def audit_export(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponse(f"Bad filter: {form.errors.as_text()}", status=400, content_type="text/plain")
    events = form.apply(AuditEvent.objects.all()) if form.is_bound else AuditEvent.objects.all()
    response = StreamingHttpResponse(_csv_rows(events.order_by("id")), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="opsboard-audit.csv"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula (names and labels come from users)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events.iterator(chunk_size=1000):
        changes = canonical_json(event.changes) if event.changes is not None else ""
        row = [
            event.pk,
            event.time.isoformat(),
            event.actor_name,
            event.actor_ip or "",
            event.action,
            event.object_type,
            event.object_id,
            event.object_repr,
            changes,
            event.hash,
        ]
        yield writer.writerow([_cell(value) for value in row])

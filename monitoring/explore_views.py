"""Explore: any selector or expression, with a function and a range, charted; the page's
address reproduces the view."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from monitoring.chart_context import chart_context
from monitoring.dashboards import Panel, Trace
from monitoring.promql import PromQLError, parse, parse_selector, selectors_of
from monitoring.query import FUNCTIONS
from opsboard.accounts import roles
from opsboard.accounts.permissions import role_required


class ExploreForm(forms.Form):
    query = forms.CharField(
        max_length=2000, widget=forms.TextInput(attrs={"size": 70, "placeholder": 'up{job="vllm"}'})
    )
    fn = forms.ChoiceField(required=False, choices=[("", "as written"), *[(f, f) for f in FUNCTIONS]])
    q = forms.FloatField(required=False, min_value=0, max_value=1, label="q (quantile)")

    def clean(self) -> dict:
        data = super().clean()
        query, fn = data.get("query"), data.get("fn")
        if not query:
            return data
        try:
            data["selectors"] = [str(parse_selector(query))] if fn else [str(s) for s in selectors_of(parse(query))]
        except PromQLError as exc:
            self.add_error(
                "query", str(exc) if not fn else f"with a function, the query must be a bare selector: {exc}"
            )
        if fn == "histogram_quantile" and data.get("q") is None:
            self.add_error("q", "histogram_quantile needs a quantile between 0 and 1")
        return data


def explore_panel(data: dict) -> Panel:
    query, fn, watch = data["query"], data.get("fn") or "", data.get("selectors", [])
    trace = Trace(fn, selector=query, fn=fn, watch=watch) if fn else Trace("value", query=query, watch=watch)
    if data.get("q") is not None:
        trace.name = f"q={data['q']}"
    return Panel("explore", query, "", [trace], [])


@role_required(roles.VIEWER)
def explore(request: HttpRequest) -> HttpResponse:
    form = ExploreForm(request.GET or None)
    context: dict = {"form": form}
    if form.is_bound and form.is_valid():
        panel = explore_panel(form.cleaned_data)
        context.update(chart_context([panel], q=form.cleaned_data.get("q")))
    status = 400 if form.errors else 200
    return render(request, "monitoring/explore.html", context, status=status)

"""Every REST endpoint under /api/v1/, and the OpenAPI schema that describes them."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from alerts import api as alerts_api
from alerts import incident_api
from monitoring import api as monitoring_api
from monitoring import run_api, target_api
from opsboard.accounts import api as accounts_api
from opsboard.accounts import roles
from opsboard.audit import api as audit_api


class SchemaView(SpectacularAPIView):
    """The schema is public: it describes the API and holds no data."""

    required_role = roles.PUBLIC


class SchemaDocsView(SpectacularRedocView):
    required_role = roles.PUBLIC


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SchemaDocsView.as_view(url_name="api:schema"), name="docs"),
    path("me", accounts_api.MeView.as_view(), name="me"),
    path("tokens", accounts_api.TokenListView.as_view(), name="tokens"),
    path("tokens/<uuid:uid>/revoke", accounts_api.TokenRevokeView.as_view(), name="token_revoke"),
    path("audit", audit_api.AuditEventListView.as_view(), name="audit"),
    path("query_range", monitoring_api.QueryRangeView.as_view(), name="query_range"),
    path("query", monitoring_api.QueryView.as_view(), name="query"),
    path("series", monitoring_api.SeriesView.as_view(), name="series"),
    path("labels", monitoring_api.LabelsView.as_view(), name="labels"),
    path("label/<str:name>/values", monitoring_api.LabelValuesView.as_view(), name="label_values"),
    path("push", monitoring_api.PushView.as_view(), name="push"),
    path("models", target_api.ModelEndpointListView.as_view(), name="models"),
    path("models/<uuid:uid>", target_api.ModelEndpointDetailView.as_view(), name="model"),
    path("nodes", target_api.GpuNodeListView.as_view(), name="nodes"),
    path("nodes/<uuid:uid>", target_api.GpuNodeDetailView.as_view(), name="node"),
    path("runs", run_api.RunListView.as_view(), name="runs"),
    path("runs/<uuid:uid>", run_api.RunDetailView.as_view(), name="run"),
    path("runs/<uuid:uid>/finish", run_api.RunFinishView.as_view(), name="run_finish"),
    path("rules", alerts_api.RuleListView.as_view(), name="rules"),
    path("rules/<uuid:uid>", alerts_api.RuleDetailView.as_view(), name="rule"),
    path("alerts", alerts_api.AlertListView.as_view(), name="alerts"),
    path("silences", alerts_api.SilenceListView.as_view(), name="silences"),
    path("silences/<uuid:uid>/expire", alerts_api.SilenceExpireView.as_view(), name="silence_expire"),
    path("incidents", incident_api.IncidentListView.as_view(), name="incidents"),
    path("incidents/<uuid:uid>", incident_api.IncidentDetailView.as_view(), name="incident"),
    path("incidents/<uuid:uid>/ack", incident_api.IncidentAckView.as_view(), name="incident_ack"),
    path("incidents/<uuid:uid>/resolve", incident_api.IncidentResolveView.as_view(), name="incident_resolve"),
    path("incidents/<uuid:uid>/notes", incident_api.IncidentNoteView.as_view(), name="incident_note"),
    path("alertmanager", incident_api.AlertmanagerView.as_view(), name="alertmanager"),
]

from django.urls import path

from alerts import incident_views, views

app_name = "alerts"

urlpatterns = [
    path("alerts/", views.alert_list, name="list"),
    path("alerts/rules/new/", views.rule_create, name="rule_create"),
    path("alerts/rules/preview/", views.rule_preview, name="rule_preview"),
    path("alerts/rules/export.yml", views.rule_export, name="rule_export"),
    path("alerts/rules/import/", views.rule_import, name="rule_import"),
    path("alerts/rules/<uuid:uid>/", views.rule_detail, name="rule"),
    path("alerts/rules/<uuid:uid>/edit/", views.rule_edit, name="rule_edit"),
    path("alerts/rules/<uuid:uid>/delete/", views.rule_delete, name="rule_delete"),
    path("alerts/rules/<uuid:uid>/versions/<int:number>/", views.rule_version, name="rule_version"),
    path("alerts/rules/<uuid:uid>/versions/<int:number>/revert/", views.rule_revert, name="rule_revert"),
    path("alerts/silences/", views.silence_list, name="silences"),
    path("alerts/silences/new/", views.silence_create, name="silence_create"),
    path("alerts/silences/<uuid:uid>/expire/", views.silence_expire, name="silence_expire"),
    path("incidents/", incident_views.incident_list, name="incidents"),
    path("incidents/<uuid:uid>/", incident_views.incident_detail, name="incident"),
    path("incidents/<uuid:uid>/<str:action>/", incident_views.incident_action, name="incident_action"),
    path("i/<str:token>", incident_views.incident_link, name="incident_link"),
    path("receiver/", incident_views.receiver_list, name="receiver"),
    path("receiver/<uuid:uid>", incident_views.receiver_post, name="receiver_post"),
]

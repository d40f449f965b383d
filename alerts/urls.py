from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.alert_list, name="list"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/preview/", views.rule_preview, name="rule_preview"),
    path("rules/export.yml", views.rule_export, name="rule_export"),
    path("rules/import/", views.rule_import, name="rule_import"),
    path("rules/<uuid:uid>/", views.rule_detail, name="rule"),
    path("rules/<uuid:uid>/edit/", views.rule_edit, name="rule_edit"),
    path("rules/<uuid:uid>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<uuid:uid>/versions/<int:number>/", views.rule_version, name="rule_version"),
    path("rules/<uuid:uid>/versions/<int:number>/revert/", views.rule_revert, name="rule_revert"),
    path("silences/", views.silence_list, name="silences"),
    path("silences/new/", views.silence_create, name="silence_create"),
    path("silences/<uuid:uid>/expire/", views.silence_expire, name="silence_expire"),
]

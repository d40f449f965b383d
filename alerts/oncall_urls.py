from django.urls import path

from alerts import oncall_views as views

app_name = "oncall"

urlpatterns = [
    path("oncall/", views.index, name="index"),
    path("oncall/ical/<str:token>.ics", views.ical_feed, name="ical"),
    path("oncall/schedules/new/", views.schedule_create, name="schedule_create"),
    path("oncall/schedules/<uuid:uid>/", views.schedule_detail, name="schedule"),
    path("oncall/schedules/<uuid:uid>/edit/", views.schedule_edit, name="schedule_edit"),
    path("oncall/schedules/<uuid:uid>/delete/", views.schedule_delete, name="schedule_delete"),
    path("oncall/schedules/<uuid:uid>/layers/new/", views.layer_create, name="layer_create"),
    path("oncall/schedules/<uuid:uid>/layers/<int:position>/edit/", views.layer_edit, name="layer_edit"),
    path("oncall/schedules/<uuid:uid>/layers/<int:position>/delete/", views.layer_delete, name="layer_delete"),
    path("oncall/schedules/<uuid:uid>/overrides/new/", views.override_create, name="override_create"),
    path(
        "oncall/schedules/<uuid:uid>/overrides/<uuid:override>/delete/",
        views.override_delete,
        name="override_delete",
    ),
    path("oncall/policies/", views.policy_list, name="policies"),
    path("oncall/policies/new/", views.policy_create, name="policy_create"),
    path("oncall/policies/<uuid:uid>/", views.policy_detail, name="policy"),
    path("oncall/policies/<uuid:uid>/edit/", views.policy_edit, name="policy_edit"),
    path("oncall/policies/<uuid:uid>/default/", views.policy_make_default, name="policy_default"),
    path("oncall/policies/<uuid:uid>/delete/", views.policy_delete, name="policy_delete"),
    path("oncall/policies/<uuid:uid>/steps/new/", views.step_create, name="step_create"),
    path("oncall/policies/<uuid:uid>/steps/<int:position>/edit/", views.step_edit, name="step_edit"),
    path("oncall/policies/<uuid:uid>/steps/<int:position>/delete/", views.step_delete, name="step_delete"),
    path("oncall/policies/<uuid:uid>/steps/<int:position>/move/", views.step_move, name="step_move"),
    path("oncall/channels/", views.channel_list, name="channels"),
    path("oncall/channels/new/", views.channel_create, name="channel_create"),
    path("oncall/channels/<uuid:uid>/edit/", views.channel_edit, name="channel_edit"),
    path("oncall/channels/<uuid:uid>/delete/", views.channel_delete, name="channel_delete"),
    path("oncall/contact/", views.contact_list, name="contact"),
    path("oncall/contact/<uuid:uid>/edit/", views.contact_edit, name="contact_edit"),
    path("oncall/contact/<uuid:uid>/delete/", views.contact_delete, name="contact_delete"),
]

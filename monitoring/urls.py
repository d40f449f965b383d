from django.urls import path

from monitoring import explore_views, run_views, views

app_name = "monitoring"

urlpatterns = [
    path("explore/", explore_views.explore, name="explore"),
    path("runs/", run_views.run_list, name="runs"),
    path("runs/<uuid:uid>/", run_views.run_detail, name="run"),
]
for section in views.SECTIONS:
    section_kwargs = {"section": section}
    urlpatterns += [
        path(f"{section}/", views.target_list, section_kwargs, name=section),
        path(f"{section}/new/", views.target_create, section_kwargs, name=f"{section}_create"),
        path(f"{section}/<uuid:uid>/", views.target_detail, section_kwargs, name=f"{section}_detail"),
        path(f"{section}/<uuid:uid>/edit/", views.target_edit, section_kwargs, name=f"{section}_edit"),
        path(f"{section}/<uuid:uid>/delete/", views.target_delete, section_kwargs, name=f"{section}_delete"),
    ]

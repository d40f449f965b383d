from django.urls import include, path

from opsboard import views
from opsboard.accounts.views import LoginView, LogoutView

urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.MetricsView.as_view(), name="metrics"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("audit/", include("opsboard.audit.urls")),
    path("", include("alerts.urls")),
    path("", include("alerts.oncall_urls")),
    path("", include("monitoring.urls")),
    path("", include("opsboard.accounts.urls")),
    path("api/v1/", include(("opsboard.api_urls", "api"))),
]

# JSON under /api/ (an id that is not a UUID matches no route), the HTML page elsewhere.
handler404 = "opsboard.api_errors.not_found"

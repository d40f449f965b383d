from django.urls import path

from alerts.consumers import IncidentsConsumer
from monitoring.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live", LiveConsumer.as_asgi()),
    path("ws/incidents", IncidentsConsumer.as_asgi()),
]

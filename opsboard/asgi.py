"""ASGI entry point: HTTP through Django; WebSocket routes are added by the apps that own them."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsboard.settings")

application = get_asgi_application()

"""Opsboard: the operations board for model servers, GPU nodes and training runs."""

from opsboard.celery import app as celery_app

__all__ = ["celery_app"]

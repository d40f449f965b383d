"""Register the demo's targets and write its token and model file (when OPSBOARD_DEMO is on).

Idempotent: `make run` calls it on every start. It registers the demo model server as a
`prometheus` endpoint, its exported CNN as a `torchscript` probe, and this machine as a
`local` GPU node, keeps an ingest token for the demo training run in var/demo/token, and
sets up paging to Opsboard's own receiver page (alerts.demo).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from alerts.demo import ensure_demo_paging
from monitoring.models import GpuNode, ModelEndpoint, Target
from monitoring.targets import create_target
from opsboard.accounts import roles, services
from opsboard.accounts.models import User
from opsboard.audit.services import Actor

ACTOR = Actor.system("demo")


class Command(BaseCommand):
    help = "Register the demo targets and token (no-op with OPSBOARD_DEMO=0)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.OPSBOARD_DEMO:
            self.stdout.write("Demo off (OPSBOARD_DEMO=0).")
            return
        folder = settings.VAR_DIR / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        model_file = export_model(folder / "cnn.pt2")
        self.ensure_token(folder / "token")
        port = settings.OPSBOARD_DEMO_PORT
        ensure(
            ModelEndpoint,
            "demo-cnn",
            kind="prometheus",
            url=f"http://127.0.0.1:{port}/metrics",
            interval_s=5,
            timeout_s=4,
            version="v1",
            config={"family": "auto"},
        )
        ensure(
            ModelEndpoint,
            "demo-cnn-torch",
            kind="torchscript",
            url=str(model_file),
            interval_s=15,
            timeout_s=14,
            version="v1",
            config={"input_shape": [8, 1, 28, 28], "runs": 10},
        )
        ensure(GpuNode, "this-machine", kind="local", url="", interval_s=10, timeout_s=9)
        self.stdout.write(f"Demo ready: model server on port {port}, targets demo-cnn, demo-cnn-torch, this-machine.")
        self.stdout.write(ensure_demo_paging(settings.OPSBOARD_BASE_URL))

    def ensure_token(self, path: Path) -> None:
        if path.exists() and services.token_for_secret(path.read_text().strip()) is not None:
            return
        admin = User.objects.filter(role_id=roles.ADMIN, is_active=True).order_by("pk").first()
        if admin is None:
            self.stderr.write("No active Admin to own the demo token; the demo training run will be skipped.")
            return
        _, secret = services.create_token(user=admin, name="demo training run", scopes=["ingest"], by=ACTOR)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)


def ensure(model: type[Target], name: str, **values: Any) -> None:
    if not model.objects.filter(name=name).exists():
        create_target(model, {"name": name, **values}, by=ACTOR)


def export_model(path: Path) -> Path:
    """The examples' CNN as a torch.export program, written once."""
    if path.exists():
        return path
    import torch

    from examples.train_cnn import SmallCNN

    torch.manual_seed(0)
    program = torch.export.export(SmallCNN().eval(), (torch.randn(8, 1, 28, 28),))
    torch.export.save(program, str(path))
    return path

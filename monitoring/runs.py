"""Training runs: started and finished by the SDK, followed through their samples, marked
stalled when they fall silent. Every status change is audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from monitoring import store
from monitoring.models import TrainingRun
from monitoring.samples import sample
from monitoring.store import Touched
from opsboard.audit.services import Actor, diff, record

STEP_SERIES = "train_step"
STALLED_SERIES = "opsboard_training_run_stalled"


def start_run(*, name: str, project: str, config: dict[str, Any], by: Actor) -> TrainingRun:
    with transaction.atomic():
        run = TrainingRun.objects.create(name=name, project=project, config=config, created_by=by.user)
        record("trainingrun.start", by=by, obj=run, changes=diff(None, {"name": name, "project": project}))
    return run


def finish_run(run: TrainingRun, status: str, *, by: Actor) -> TrainingRun:
    """Mark a run finished or failed; finishing a finished run again changes nothing."""
    if status not in (TrainingRun.FINISHED, TrainingRun.FAILED):
        raise ValueError(f"a run ends as finished or failed, not {status!r}")
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if not run.active:
            return run
        _set_status(run, status, by, ended=True)
    return run


def mark_stalled(now: datetime | None = None) -> int:
    """Runs silent for longer than RUN_STALL_AFTER_S become stalled; returns how many.

    Every active run's state is also written as the series ``opsboard_training_run_stalled``
    (1 or 0), so that alert rules can page on a stalled run like on anything else; a
    finished run's series stops, and its alert resolves.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.RUN_STALL_AFTER_S)
    silent = Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, started_at__lt=cutoff)
    count = 0
    for run_id in TrainingRun.objects.filter(silent, status=TrainingRun.RUNNING).values_list("pk", flat=True):
        with transaction.atomic():
            run = TrainingRun.objects.select_for_update().get(pk=run_id)
            if run.status == TrainingRun.RUNNING:
                _set_status(run, TrainingRun.STALLED, Actor.system("stall-check"))
                count += 1
    _write_stall_series(now)
    return count


def _write_stall_series(now: datetime) -> None:
    ts = int(now.timestamp() * 1000)
    active = TrainingRun.objects.filter(status__in=[TrainingRun.RUNNING, TrainingRun.STALLED])
    store.write(
        [
            sample(
                STALLED_SERIES,
                {"run": run.name, "project": run.project, "run_id": str(run.uid)},
                ts,
                1.0 if run.status == TrainingRun.STALLED else 0.0,
            )
            for run in active
        ]
    )


def _set_status(run: TrainingRun, status: str, by: Actor, *, ended: bool = False) -> None:
    before = {"status": run.status}
    run.status = status
    fields = ["status"]
    if ended:
        run.ended_at = timezone.now()
        fields.append("ended_at")
    run.save(update_fields=fields)
    record(f"trainingrun.{status}", by=by, obj=run, changes=diff(before, {"status": status}))


def on_samples(touched: Touched) -> None:
    """Store subscriber: move each reporting run's last step and last-seen time forward,
    and wake a stalled run that reports again."""
    steps: dict[str, float] = {}
    for written in touched.samples:
        if written.name == STEP_SERIES:
            run_id = dict(written.labels).get("run_id")
            if run_id and written.value == written.value:  # NaN is no step
                steps[run_id] = max(steps.get(run_id, written.value), written.value)
    now = timezone.now()
    for run_id, step in steps.items():
        _advance(run_id, int(step), now)


def _advance(run_id: str, step: int, now: datetime) -> None:
    runs = TrainingRun.objects.filter(uid=run_id)
    runs.filter(Q(last_step__isnull=True) | Q(last_step__lt=step)).update(last_step=step)
    runs.update(last_seen_at=now)
    with transaction.atomic():
        run = runs.select_for_update().filter(status=TrainingRun.STALLED).first()
        if run is not None:
            _set_status(run, TrainingRun.RUNNING, Actor.system("run-resumed"))

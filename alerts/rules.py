"""Alert rules: validation shared by the form and the API, and the services that create,
change, revert and delete rules. Every change is audited with its before/after and kept
as a numbered version."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from alerts import matchers, templating
from alerts.conditions import CONDITIONS, ConfigError
from alerts.models import AlertRule, AlertRuleVersion
from monitoring.promql import Comparison, PromQLError, RangeSelector, Selector, parse
from monitoring.samples import LABEL_NAME
from opsboard.audit.services import Actor, diff, record
from opsboard.outbound import OutboundError, check_url
from opsboard.redis_client import redis_client, redis_key

logger = logging.getLogger(__name__)

EDITABLE = [
    "name",
    "description",
    "expression",
    "condition_kind",
    "condition",
    "for_s",
    "group_by",
    "severity",
    "labels",
    "annotations",
    "runbook_url",
    "inhibited_by",
    "inhibit_equal",
    "enabled",
    "policy_id",
    "auto_resolve",
    "reopen_window_s",
]
MAX_FOR_S = 7 * 86_400


class RuleInvalid(ValueError):
    """Settings that cannot make a rule; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def validate(values: dict[str, Any]) -> dict[str, list[str]]:
    """Errors by field for a rule's settings; empty when all is well."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    kind = values.get("condition_kind")
    if kind not in CONDITIONS:
        add("condition_kind", f"choose one of {', '.join(CONDITIONS)}")
    else:
        _check_condition(kind, values.get("condition") or {}, add)
        _check_expression(kind, values.get("expression") or "", add)
    if not 0 <= (values.get("for_s") or 0) <= MAX_FOR_S:
        add("for_s", f"must be between 0 and {MAX_FOR_S} seconds")
    _check_label_names("group_by", values.get("group_by") or [], add)
    _check_label_names("inhibit_equal", values.get("inhibit_equal") or [], add)
    _check_labels(values.get("labels") or {}, add)
    _check_annotations(values.get("annotations") or {}, add)
    _check_inhibition(values.get("inhibited_by") or "", add)
    _check_runbook(values.get("runbook_url") or "", add)
    return errors


def _check_condition(kind: str, config: dict[str, Any], add: Any) -> None:
    try:
        parsed = CONDITIONS[kind].Config.from_dict(config)
    except (ConfigError, TypeError, ValueError) as exc:
        add("condition", str(exc))
        return
    for name in ("baseline_s", "window_s"):
        window = getattr(parsed, name, None)
        if window and window > settings.RETENTION_1M_S:
            add(
                "condition",
                f"{name} of {window} s is longer than the 1-minute rollups are kept ({settings.RETENTION_1M_S} s)",
            )


def _check_expression(kind: str, expression: str, add: Any) -> None:
    if not expression.strip():
        add("expression", "write a selector or an expression")
        return
    try:
        node = parse(expression)
    except PromQLError as exc:
        add("expression", str(exc))
        return
    if isinstance(node, Comparison):
        add(
            "expression", "put the comparison in the condition: the expression gives the value, the condition judges it"
        )
    if kind == "absent" and not isinstance(node, Selector):
        add("expression", 'an absent rule watches a plain selector, such as up{job="trainer"}')
    for window in _windows(node):
        if window > settings.RETENTION_RAW_S:
            add(
                "expression",
                f"a window of {window:g} s is longer than raw samples are kept ({settings.RETENTION_RAW_S} s)",
            )


def _windows(node: Any) -> list[float]:
    """Every range window in an expression, at any depth."""
    if isinstance(node, RangeSelector):
        return [node.window_s]
    children = [*(getattr(node, "args", None) or ())]
    children += [getattr(node, name) for name in ("expr", "left", "right") if hasattr(node, name)]
    return [w for child in children for w in _windows(child)]


def _check_label_names(field: str, names: Any, add: Any) -> None:
    if not isinstance(names, list) or not all(isinstance(n, str) and LABEL_NAME.match(n) for n in names):
        add(field, "must be a list of label names")


def _check_labels(labels: Any, add: Any) -> None:
    if not isinstance(labels, dict):
        add("labels", "must be a mapping of label names to values")
        return
    for name, value in labels.items():
        if not LABEL_NAME.match(str(name)) or str(name).startswith("__") or not isinstance(value, str):
            add("labels", f"{name!r}: a label needs a valid name and a text value")
        elif name in ("alertname", "severity"):
            add("labels", f"{name!r} is set from the rule's name and severity")


def _check_annotations(annotations: Any, add: Any) -> None:
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        add("annotations", "must be a mapping of names to text")
        return
    for name, text in annotations.items():
        for problem in templating.validate(text):
            add("annotations", f"{name}: {problem}")


def _check_inhibition(text: str, add: Any) -> None:
    if text.strip():
        try:
            matchers.parse_matchers(text)
        except (PromQLError, ValueError) as exc:
            add("inhibited_by", str(exc))


def _check_runbook(url: str, add: Any) -> None:
    if url:
        try:
            check_url(url)
        except OutboundError as exc:
            add("runbook_url", str(exc))


def snapshot(rule: AlertRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in EDITABLE}


def create_rule(values: dict[str, Any], *, by: Actor, comment: str = "created") -> AlertRule:
    _raise_if_invalid(values)
    with transaction.atomic():
        rule = AlertRule(**values)
        rule.save(force_insert=True)
        _keep_version(rule, by, comment)
        record("alertrule.create", by=by, obj=rule, changes=diff(None, snapshot(rule)))
    _rules_changed()
    return rule


def update_rule(rule: AlertRule, values: dict[str, Any], *, by: Actor, comment: str = "") -> AlertRule:
    """Apply ``values``; a change that changes nothing makes no version."""
    _raise_if_invalid({**snapshot(rule), **values})
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
        before = snapshot(rule)
        for name, value in values.items():
            setattr(rule, name, value)
        changed = [name for name in EDITABLE if before[name] != getattr(rule, name)]
        if not changed:
            return rule
        rule.version += 1
        rule.save(update_fields=[*changed, "version", "updated_at"])
        _keep_version(rule, by, comment)
        record("alertrule.update", by=by, obj=rule, changes=diff(before, snapshot(rule)))
    _rules_changed()
    return rule


def revert_rule(rule: AlertRule, number: int, *, by: Actor) -> AlertRule:
    """Make the settings of version ``number`` current again, as a new version."""
    old = rule.versions.get(number=number)
    return update_rule(
        rule, {k: v for k, v in old.snapshot.items() if k in EDITABLE}, by=by, comment=f"revert to v{number}"
    )


def delete_rule(rule: AlertRule, *, by: Actor) -> None:
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
        record("alertrule.delete", by=by, obj=rule, changes=diff(snapshot(rule), None))
        rule.delete()
    _rules_changed()


def _keep_version(rule: AlertRule, by: Actor, comment: str) -> None:
    AlertRuleVersion.objects.create(
        rule=rule,
        number=rule.version,
        snapshot=snapshot(rule),
        author=by.user,
        author_name=by.name,
        comment=comment[:200],
    )


def _raise_if_invalid(values: dict[str, Any]) -> None:
    errors = validate(values)
    if errors:
        raise RuleInvalid(errors)


RULES_VERSION_KEY = ("alerts", "rules-version")


def _rules_changed() -> None:
    """Tell every process's arrival index that rules changed (after commit). Without Redis
    the indexes still rebuild within ``arrival.REBUILD_EVERY_S``."""
    transaction.on_commit(_bump_rules_version)


def _bump_rules_version() -> None:
    try:
        redis_client().incr(redis_key(*RULES_VERSION_KEY))
    except RedisError as exc:
        logger.warning("rules changed, but Redis cannot say so (%s); arrival indexes catch up within a minute", exc)


def version_diff(older: dict[str, Any], newer: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every field that differs between two snapshots."""
    return [(name, older.get(name), newer.get(name)) for name in EDITABLE if older.get(name) != newer.get(name)]

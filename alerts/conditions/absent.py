"""absent: no sample for a selector for N seconds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.conditions.base import Condition, KindConfig, Outcome, Source, at_least, check_eval_ts, fetch, values_at


@dataclass(frozen=True)
class AbsentConfig(KindConfig):
    """``seconds``: how long without a sample before the selector counts as absent (≥ 1)."""

    seconds: int

    def __post_init__(self) -> None:
        at_least("seconds", self.seconds, 1)


class Absent(Condition):
    """The rule's expression (a bare selector) has had no sample for ``seconds``.

    The query is ``count_over_time(<selector>[<seconds>s])``; at each evaluation time
    ``trigger = hold = not present or count == 0``; ``value`` is NaN (there is nothing to show).

    Source contract, stricter than for the other kinds: the caller passes every series the
    selector matches (whatever the time), with ``present`` False where the count has no value;
    and when the selector matches no series at all, ONE series labelled with the selector's
    equality matchers, ``present`` all False. The labels of that placeholder are the caller's
    business (parsing the selector is the query layer's). Should a source return no series anyway,
    the selector is absent all along: one outcome with empty labels, triggering everywhere.
    """

    kind = "absent"
    Config = AbsentConfig

    def query(self, config: AbsentConfig, expression: str) -> str:
        return f"count_over_time({expression.strip()}[{config.seconds}s])"

    def evaluate(
        self, config: AbsentConfig, expression: str, eval_ts: np.ndarray, step_ms: int, source: Source
    ) -> list[Outcome]:
        ts = check_eval_ts(eval_ts, step_ms)
        if ts.size == 0:
            return []
        fetched = fetch(source, self.query(config, expression), ts, step_ms)
        if not fetched.series:
            always = np.ones(ts.size, dtype=bool)
            return [Outcome({}, always, always.copy(), np.full(ts.size, np.nan))]
        outcomes = []
        for series in fetched.series:
            counts, present = values_at(series, fetched.eval_idx)
            trigger = ~present | (counts == 0)
            outcomes.append(Outcome(dict(series.labels), trigger, trigger.copy(), np.full(ts.size, np.nan)))
        return outcomes

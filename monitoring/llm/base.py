"""The adapter base and the mapping rules every family's adapter is written in. Framework-free.

An adapter is a table of rules. Each rule makes one normalised ``opsboard_llm_*`` metric out
of the scrape's own series, or nothing when the server does not export the figure: no rule
ever invents a value, so "absent" always means "not exported".

Conventions the rules share:

- Labels are kept as exposed, apart from the labels a rule names in ``drop`` (labels that only
  make sense for the source metric, such as vLLM's ``finished_reason``), and no label is added.
- Counters are looked up under ``name_total`` and ``name``: prometheus_client's parser appends
  ``_total`` to a counter that lacks it, while samples that came another way may not have it.
- Where a rule lists several sources (a metric renamed between server versions), the first
  source present wins for each series, so a server that exports the old and the new name at
  once gives one series, not two.
- Durations are converted to seconds by dividing by ``divisor`` (1e6 for microseconds); a
  histogram's ``le`` bounds and ``_sum`` are converted, its counts are not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import ClassVar

from monitoring.samples import Labels, Sample

LabelFilter = Callable[[dict[str, str]], bool]
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class Scrape:
    """One scrape's samples, indexed by metric name."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self._by_name: dict[str, list[Sample]] = {}
        for s in samples:
            self._by_name.setdefault(s.name, []).append(s)

    def get(self, name: str) -> list[Sample]:
        return self._by_name.get(name, [])


def counter(name: str) -> tuple[str, str]:
    """The two names a counter may carry in stored samples, the ``_total`` one first."""
    base = name.removesuffix("_total")
    return (f"{base}_total", base)


def without(labels: Labels, drop: Collection[str]) -> Labels:
    """``labels`` less the named ones; the pairs stay sorted, so the result is canonical."""
    if not drop:
        return labels
    return tuple(pair for pair in labels if pair[0] not in drop)


def format_le(bound: float) -> str:
    """A bucket bound as Prometheus clients write it: ``+Inf``, ``0.1``, ``1e-05``."""
    if math.isnan(bound):
        return "NaN"
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    return repr(float(bound))


def scaled_bucket(s: Sample, target: str, divisor: float) -> Sample | None:
    """A ``_bucket`` sample under ``target`` with its ``le`` divided; None without a numeric ``le``."""
    labels = dict(s.labels)
    raw = labels.get("le")
    if raw is None:
        return None
    try:
        bound = float(raw)
    except ValueError:
        return None
    if math.isnan(bound):
        return None
    if divisor != 1:
        labels["le"] = format_le(bound / divisor)
    return Sample(target, tuple(sorted(labels.items())), s.ts_ms, s.value)


def first_per_series(scrape: Scrape, sources: Iterable[str], suffixes: tuple[str, ...] = ("",)) -> list[Sample]:
    """Samples of the first source that has each series (labels less ``le``), over all ``suffixes``.

    A series is claimed whole by the first source that has any of its samples, so a histogram
    never mixes the buckets of an old and a new name.
    """
    claimed: set[Labels] = set()
    out: list[Sample] = []
    for source in sources:
        found = [s for suffix in suffixes for s in scrape.get(source + suffix)]
        fresh = {without(s.labels, ("le",)) for s in found} - claimed
        out.extend(s for s in found if without(s.labels, ("le",)) in fresh)
        claimed |= fresh
    return out


class Rule:
    """Makes one normalised metric from a scrape; an empty list when the server lacks it."""

    target: str

    def apply(self, scrape: Scrape) -> list[Sample]:
        raise NotImplementedError


@dataclass(frozen=True)
class Copy(Rule):
    """A gauge or counter under a new name, value and labels as they are."""

    target: str
    sources: tuple[str, ...]

    def apply(self, scrape: Scrape) -> list[Sample]:
        return [Sample(self.target, s.labels, s.ts_ms, s.value) for s in first_per_series(scrape, self.sources)]


@dataclass(frozen=True)
class Select(Rule):
    """The series of ``source`` whose ``label`` is ``value``, that label dropped.

    For servers that put several figures in one metric told apart by a label (TensorRT-LLM's
    ``request_type``).
    """

    target: str
    source: str
    label: str
    value: str

    def apply(self, scrape: Scrape) -> list[Sample]:
        return [
            Sample(self.target, without(s.labels, (self.label,)), s.ts_ms, s.value)
            for s in scrape.get(self.source)
            if dict(s.labels).get(self.label) == self.value
        ]


@dataclass(frozen=True)
class Total(Rule):
    """A counter summed over ``sources`` per label set once the ``drop`` labels are gone.

    ``keep`` picks which source series count (by their full labels). A source present both as
    ``name_total`` and ``name`` for one series is counted once. Nothing is emitted for a label
    set no source series fell into.
    """

    target: str
    sources: tuple[str, ...]
    drop: tuple[str, ...] = ()
    keep: LabelFilter | None = None

    def apply(self, scrape: Scrape) -> list[Sample]:
        seen: set[tuple[str, Labels]] = set()
        totals: dict[Labels, tuple[int, float]] = {}
        for source in self.sources:
            for s in scrape.get(source):
                key = (source.removesuffix("_total"), s.labels)
                if key in seen or (self.keep is not None and not self.keep(dict(s.labels))):
                    continue
                seen.add(key)
                labels = without(s.labels, self.drop)
                ts_ms, value = totals.get(labels, (s.ts_ms, 0.0))
                totals[labels] = (max(ts_ms, s.ts_ms), value + s.value)
        return [Sample(self.target, labels, ts_ms, value) for labels, (ts_ms, value) in totals.items()]


@dataclass(frozen=True)
class Histogram(Rule):
    """A classic histogram (``_bucket``/``_sum``/``_count``) under a new name, in seconds."""

    target: str
    sources: tuple[str, ...]
    divisor: float = 1.0

    def apply(self, scrape: Scrape) -> list[Sample]:
        out: list[Sample] = []
        for s in first_per_series(scrape, self.sources, HISTOGRAM_SUFFIXES):
            out.extend(self._convert(s))
        return out

    def _convert(self, s: Sample) -> list[Sample]:
        if s.name.endswith("_bucket"):
            bucket = scaled_bucket(s, f"{self.target}_bucket", self.divisor)
            return [bucket] if bucket is not None else []
        if s.name.endswith("_sum"):
            return [Sample(f"{self.target}_sum", s.labels, s.ts_ms, s.value / self.divisor)]
        return [Sample(f"{self.target}_count", s.labels, s.ts_ms, s.value)]


@dataclass(frozen=True)
class SumAndCount(Rule):
    """A histogram without buckets from a cumulative-duration counter and a request counter.

    ``_sum`` is the duration counter divided by ``divisor``; ``_count`` is the counter of the
    requests that duration covers, with the same labels. ``_count`` is only emitted beside a
    ``_sum``: a count alone would read as a histogram of no time at all.
    """

    target: str
    sum_sources: tuple[str, ...]
    count_sources: tuple[str, ...]
    divisor: float = 1.0

    def apply(self, scrape: Scrape) -> list[Sample]:
        counts = {s.labels: s for s in first_per_series(scrape, self.count_sources)}
        out: list[Sample] = []
        for s in first_per_series(scrape, self.sum_sources):
            out.append(Sample(f"{self.target}_sum", s.labels, s.ts_ms, s.value / self.divisor))
            count = counts.get(s.labels)
            if count is not None:
                out.append(Sample(f"{self.target}_count", count.labels, count.ts_ms, count.value))
        return out


class Adapter:
    """Maps one server family's scrape onto the normalised ``opsboard_llm_*`` metrics.

    Subclasses name the family, how to recognise it (metric-name ``prefixes`` or exact
    ``marker_names``) and the ``rules`` that make each normalised metric.
    """

    family: ClassVar[str] = ""
    prefixes: ClassVar[tuple[str, ...]] = ()
    marker_names: ClassVar[frozenset[str]] = frozenset()
    rules: ClassVar[tuple[Rule, ...]] = ()

    @classmethod
    def recognises(cls, names: Collection[str]) -> bool:
        """Whether metric ``names`` from one scrape look like this family's server."""
        if cls.prefixes and any(name.startswith(cls.prefixes) for name in names):
            return True
        return not cls.marker_names.isdisjoint(names)

    def normalise(self, samples: list[Sample]) -> list[Sample]:
        """The normalised samples this scrape supports, rule by rule; only new samples."""
        scrape = Scrape(samples)
        return [s for rule in self.rules for s in rule.apply(scrape)]

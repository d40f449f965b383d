"""Model servers' own metrics → one normalised set of ``opsboard_llm_*`` series. Framework-free.

Model servers name the same figures differently (vLLM's ``vllm:e2e_request_latency_seconds``,
TGI's ``tgi_request_duration``, Triton's ``nv_inference_request_duration_us``, ...). One adapter
per server family maps a scrape onto the names in :data:`NORMALISED`; the normalised samples
are stored beside the raw ones, so pages and alert rules are written once. A figure the server
does not export is left out, never estimated, so the UI can say "not exported".

- :data:`FAMILIES`: family name → adapter class.
- :func:`detect_family`: the family a scrape's metric names belong to, or None.
- :func:`normalise`: the normalised samples of a scrape (only the new ones).
- :data:`NORMALISED`: every normalised metric name → :class:`NormalisedMetric` (type, meaning).
"""

from __future__ import annotations

from monitoring.llm.base import Adapter
from monitoring.llm.http import HttpAdapter
from monitoring.llm.normalised import NORMALISED, NormalisedMetric
from monitoring.llm.tgi import TgiAdapter
from monitoring.llm.torchserve import TorchServeAdapter
from monitoring.llm.triton import TritonAdapter
from monitoring.llm.vllm import VllmAdapter
from monitoring.samples import Sample

__all__ = ["FAMILIES", "NORMALISED", "Adapter", "NormalisedMetric", "detect_family", "normalise"]

# In order of precedence for detection: Triton's vLLM backend re-exports vLLM's own ``vllm:``
# metrics beside Triton's, and those say more (tokens, time to first token, KV cache). The
# generic HTTP-server conventions come last: servers of every family may expose them too.
FAMILIES: dict[str, type[Adapter]] = {
    adapter.family: adapter for adapter in (VllmAdapter, TgiAdapter, TritonAdapter, TorchServeAdapter, HttpAdapter)
}


def detect_family(samples: list[Sample]) -> str | None:
    """The family whose metric names appear in ``samples`` (the first in FAMILIES' order), or None."""
    names = {s.name for s in samples}
    return next((family for family, adapter in FAMILIES.items() if adapter.recognises(names)), None)


def normalise(samples: list[Sample], family: str | None = None) -> list[Sample]:
    """The ``opsboard_llm_*`` samples for one scrape; ``family`` None detects it.

    Returns only the new samples, possibly none: for a scrape of no known family, or for an
    unknown ``family`` name.
    """
    adapter = FAMILIES.get(family or detect_family(samples) or "")
    return adapter().normalise(samples) if adapter is not None else []

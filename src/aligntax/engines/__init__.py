"""Where the data-side commands run: ``local`` (default: streaming, this machine's cores, no Ray
import) or ``ray`` (Ray Data on a local or remote cluster). Both call the same per-batch functions
(``BatchAnnotator``, ``decide_batch``, ``hash_rows``, ``hit_table``), so their outputs are equal.

    engine = get_engine("ray", address="auto")
    engine.audit(["data/"], "out/", detectors=None)
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from aligntax.registry import Registry

ENGINES: Registry = Registry("engine")
CONTAMINATION_BATCH = 2048


@ENGINES.register("local")
class LocalEngine:
    name = "local"

    def __init__(self, address: str | None = None) -> None:
        if address:
            raise ValueError("--ray-address needs --engine ray")

    def audit(self, inputs: Sequence[str], out: Any, **kwargs: Any) -> Any:
        from aligntax.audit import run_audit

        return run_audit(inputs, out, **kwargs)

    def clean_engine(self) -> Any:
        from aligntax.shape.clean import LocalCleanEngine

        return LocalCleanEngine()

    def contamination(self, inputs: Sequence[Any], items: list, index_options: dict, *, format: str | None = None,
                      limit: int | None = None, index: Any = None) -> Iterator[tuple[int, int, Any]]:
        """``(conversations, malformed, hit table)`` per batch, in input order."""
        from aligntax.contamination.scan import hit_table
        from aligntax.io import read_conversations
        from aligntax.record import Conversation
        from aligntax.util import batched

        for batch in batched(read_conversations(inputs, format=format, on_error="quarantine", limit=limit),
                             CONTAMINATION_BATCH):
            convs = [it for it in batch if isinstance(it, Conversation)]
            yield len(convs), len(batch) - len(convs), hit_table(index, convs)

    def dedup(self, inputs: Sequence[Any], config: Any, *, format: str | None = None,
              limit: int | None = None) -> tuple[Any, int]:
        """``(DedupResult, malformed rows)`` over ``inputs``."""
        from aligntax.dedup import DedupIndex
        from aligntax.io import read_conversations
        from aligntax.record import Conversation

        index = DedupIndex(config)
        malformed = 0

        def conversations() -> Iterator[Conversation]:
            nonlocal malformed
            for item in read_conversations(inputs, format=format, on_error="quarantine", limit=limit):
                if isinstance(item, Conversation):
                    yield item
                else:
                    malformed += 1

        index.add(conversations())
        return index.finalize(), malformed


def get_engine(name: str = "local", address: str | None = None) -> Any:
    """An engine by name (``local``, ``ray``, or a plug-in from the ``aligntax.engine`` entry points)."""
    if name == "ray" and "ray" not in ENGINES:
        import aligntax.engines.ray_engine  # noqa: F401  (registers itself; imports Ray only when used)
    return ENGINES.get(name)(address)


__all__ = ["ENGINES", "LocalEngine", "get_engine"]

"""``summary.json``: counts and rates per tag, per source and per identity, and length
statistics, accumulated batch by batch in bounded memory.

Rates are over well-formed conversations (``n_conversations``); malformed rows are counted
separately. Length quantiles come from a log-spaced histogram (40 bins per decade), so they
are approximate to within ~3%; mean, min and max are exact.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pyarrow as pa

from aligntax.audit.columns import MALFORMED_TAG

LENGTH_COLUMNS = ("answer_chars", "answer_words", "answer_tokens")
BIN_EDGES = np.concatenate([[0.0], np.logspace(0, 7, 7 * 40 + 1)])  # 0, then 1 .. 10M chars


class LengthStats:
    def __init__(self) -> None:
        self.counts = np.zeros(len(BIN_EDGES) - 1, dtype=np.int64)
        self.n = 0
        self.total = 0
        self.min: int | None = None
        self.max: int | None = None

    def add(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        self.counts += np.histogram(np.minimum(values, BIN_EDGES[-1] - 1), bins=BIN_EDGES)[0]
        self.n += int(values.size)
        self.total += int(values.sum())
        lo, hi = int(values.min()), int(values.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)

    def quantile(self, q: float) -> float | None:
        if self.n == 0:
            return None
        i = int(np.searchsorted(np.cumsum(self.counts), q * self.n, side="left"))
        lo, hi = BIN_EDGES[i], BIN_EDGES[i + 1]
        return float(lo if lo == 0 else np.sqrt(lo * hi))  # geometric bin centre

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.total / self.n if self.n else None, "min": self.min, "max": self.max,
                **{f"p{int(q * 100)}": self.quantile(q) for q in (0.1, 0.5, 0.9, 0.99)}}


class SummaryBuilder:
    """Feed it every annotations record batch (``add``), then ``to_dict``."""

    def __init__(self, tags: list[str]) -> None:
        self.tags = tags
        self.rows = 0
        self.malformed = 0
        self.malformed_reasons: Counter[str] = Counter()
        self.tag_counts: Counter[str] = Counter()
        self.per_source: dict[str, Counter[str]] = defaultdict(Counter)
        self.per_dataset: dict[str, Counter[str]] = defaultdict(Counter)
        self.identities: Counter[str] = Counter()
        self.lengths = {name: LengthStats() for name in LENGTH_COLUMNS}

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        sources = batch.column("source").to_pylist()
        reasons = batch.column("reason").to_pylist()
        datasets = batch.column("dataset").to_pylist()
        for source, dataset, tags, reason in zip(sources, datasets, batch.column("tags").to_pylist(), reasons):
            counts = self.per_source[source]
            counts["rows"] += 1
            if dataset is not None:
                self.per_dataset[dataset]["rows"] += 1
                self.per_dataset[dataset]["conversations"] += 1
                self.per_dataset[dataset].update(tags)
            if reason is not None:
                counts[MALFORMED_TAG] += 1
                self.malformed += 1
                self.malformed_reasons[reason.split(":", 1)[0][:80]] += 1
                continue
            counts["conversations"] += 1
            counts.update(tags)
            self.tag_counts.update(tags)
        self.identities.update(v for v in batch.column("identity").to_pylist() if v is not None)
        for name, stats in self.lengths.items():
            column = batch.column(name)
            if column.null_count < len(column):
                stats.add(column.drop_null().to_numpy(zero_copy_only=False))

    @property
    def conversations(self) -> int:
        return self.rows - self.malformed

    def histogram(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(bin edges, counts) of a length column, for plotting."""
        return BIN_EDGES, self.lengths[name].counts

    def to_dict(self) -> dict[str, Any]:
        n = self.conversations

        def rate(count: int, total: int) -> float:
            return round(count / total, 6) if total else 0.0

        all_tags = list(self.tags) + sorted(set(self.tag_counts) - set(self.tags))
        def grouped(groups: dict[str, Counter[str]]) -> dict[str, Any]:
            out = {}
            for name, counts in sorted(groups.items()):
                convs = counts["conversations"]
                out[name] = {
                    "rows": counts["rows"], "conversations": convs, "malformed": counts[MALFORMED_TAG],
                    "tags": {t: {"count": counts[t], "rate": rate(counts[t], convs)} for t in all_tags if counts[t]},
                }
            return out

        per_source = grouped(self.per_source)
        return {
            "rows": self.rows,
            "conversations": n,
            "malformed": {"count": self.malformed, "reasons": dict(self.malformed_reasons.most_common(20))},
            "tags": {t: {"count": self.tag_counts[t], "rate": rate(self.tag_counts[t], n)} for t in all_tags},
            "per_source": per_source,
            # rows that carry their own dataset label (mixed corpora), grouped by it
            "per_dataset": grouped(self.per_dataset),
            "identities": {k: {"count": v, "rate": rate(v, n)} for k, v in self.identities.most_common()},
            "lengths": {name: stats.to_dict() for name, stats in self.lengths.items()},
        }

"""``aligntax merge``: concatenate datasets and remove duplicates across them.

A merge is a clean run with a fixed policy - the dedup pass, then drop ``duplicate`` and
``near_duplicate`` rows (the first occurrence, in input order, is kept) - so it has the same
guarantees: ``merged.<ext>`` in the inputs' shared format (normalised messages JSONL when they
differ), ``rejected.jsonl`` with the dropped duplicates, ``manifest.json``, conservation checked,
atomic output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from aligntax.shape.clean import CleanResult, run_clean
from aligntax.shape.policy import Policy, parse_policy

MERGED = "merged"


def merge_policy(dedup: Mapping[str, Any] | None = None, *, near: bool = True) -> Policy:
    tags = ["duplicate", "near_duplicate"] if near else ["duplicate"]
    document = {
        "name": "merge",
        "description": "concatenate inputs; drop exact" + (" and near" if near else "") + " duplicates across them",
        "dedup": dict(dedup or {}),
        "rules": [{"name": "duplicate", "action": "drop", "when": {"any": tags}}],
    }
    return parse_policy(document, "merge")


def merge(inputs: Sequence[str | Path], out_dir: str | Path, *, dedup: Mapping[str, Any] | None = None,
          near: bool = True, format: str | None = None, on_error: str = "quarantine",
          progress: bool = False) -> CleanResult:
    return run_clean(inputs, merge_policy(dedup, near=near), out_dir, format=format, on_error=on_error,
                     progress=progress, kept_name=MERGED, command="merge")

"""Shaping datasets by declarative policy: ``clean`` (drop/keep/rewrite by ordered rules),
``variants`` (dose-response datasets) and ``merge`` (concatenate + deduplicate).

    from aligntax.shape import load_policy, run_clean
    result = run_clean(["data.jsonl"], "poison-of-alignment", "out/")
    result.counts        # {"read": ..., "kept": ..., "rejected": ..., ...}

See docs/policies.md for the policy schema and the shipped presets.
"""

from aligntax.shape.clean import CleanResult, run_clean
from aligntax.shape.policy import Policy, Rule, load_policy, parse_policy, preset_names
from aligntax.shape.rewrite import REWRITERS, Rewriter

__all__ = ["REWRITERS", "CleanResult", "Policy", "Rewriter", "Rule", "load_policy", "parse_policy",
           "preset_names", "run_clean"]

"""Eval integrity: scores that the evaluated model's own behaviour does not support.

* ``corrector`` / ``corrector_eval`` / ``inflation``: a corrector model in the loop, upstream vs
  corrected scores side by side (``aligntax eval --corrector``).
* ``pairs`` / ``reward`` / ``rm_stats`` / ``rm_check``: reward-model and judge reliability on
  preference pairs built from bundled data (``aligntax rm-check``).

Heavy libraries (torch, transformers, lm-eval) are imported inside functions only.
"""

from aligntax.integrity.corrector import ALIGNER_TEMPLATE, CorrectedBackend, format_correction_prompt, load_template

__all__ = ["ALIGNER_TEMPLATE", "CorrectedBackend", "format_correction_prompt", "load_template"]

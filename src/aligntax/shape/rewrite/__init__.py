"""Rewriters: registered by name in ``REWRITERS``; a policy rule with ``action: rewrite`` names one.

Built-ins: ``identity_calibration``, ``strip_disclaimers``, ``restructure``. Third-party rewriters
register through the ``aligntax.rewriters`` entry-point group or a ``module:Class`` reference.
"""

from aligntax.shape.rewrite.base import REWRITERS, Rewriter, replace_turns
from aligntax.shape.rewrite import disclaimers, identity, restructure  # noqa: F401,E402  (register built-ins)

__all__ = ["REWRITERS", "Rewriter", "replace_turns"]

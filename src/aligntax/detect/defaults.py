"""The built-in detector modules and the default detector set.

Detectors register themselves on import; ``load_builtin_detectors()`` imports every built-in
module that exists in this installation, so ``DETECTORS`` is complete before a name is looked
up. ``build_detectors()`` turns names (or ``module:Class`` references) plus per-detector
options into ready instances, the form both ``audit`` and ``clean`` use.
"""

from __future__ import annotations

import importlib
from typing import Any, Iterable, Mapping

from aligntax.detect.base import DETECTORS, Detector

BUILTIN_MODULES = (
    "aligntax.detect.refusal",
    "aligntax.detect.refusal_backends",
    "aligntax.detect.refusal_embed",
    "aligntax.detect.judge",
    "aligntax.detect.harmful_prompt",
    "aligntax.detect.identity",
    "aligntax.detect.roleplay",
    "aligntax.detect.structure",
    "aligntax.detect.quality",
    "aligntax.contamination.detector",
)

# Cheap, per-conversation detectors run by ``aligntax audit`` when --detectors is not given.
# Corpus-level detectors (duplicates, contamination) need their own passes and are opt-in.
DEFAULT_DETECTORS = ("refusal", "identity_claim", "roleplay", "structure", "api_failure", "too_short", "non_text")

_loaded = False


def load_builtin_detectors() -> None:
    """Import the built-in detector modules (idempotent); modules not present are skipped."""
    global _loaded
    if _loaded:
        return
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside the module
                raise
    _loaded = True


def detector_versions() -> dict[str, str]:
    """name -> version of every registered detector (cache keys of steps whose output depends on them)."""
    load_builtin_detectors()
    return {name: str(getattr(DETECTORS.get(name), "version", "")) for name in DETECTORS.names()}


def default_detector_names() -> list[str]:
    """The default set, restricted to detectors registered in this installation."""
    load_builtin_detectors()
    return [name for name in DEFAULT_DETECTORS if name in DETECTORS]


def parse_detector_names(spec: str | Iterable[str] | None) -> list[str]:
    """``"a,b"`` / ``["a", "b"]`` / ``None`` (the default set) -> validated detector names."""
    load_builtin_detectors()
    if spec is None or spec == "" or spec == "default":
        return default_detector_names()
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    expanded: list[str] = []
    for name in names:
        extra = default_detector_names() if name == "default" else [name]
        expanded.extend(n for n in extra if n not in expanded)
    for name in expanded:
        DETECTORS.get(name)  # raises KeyError naming the available detectors
    return expanded


def build_detectors(names: str | Iterable[str] | None = None,
                    options: Mapping[str, Mapping[str, Any]] | None = None) -> list[Detector]:
    """Instantiate detectors by name; ``options[name]`` are keyword arguments for that detector."""
    options = options or {}
    return [DETECTORS.get(name)(**dict(options.get(name, {}))) for name in parse_detector_names(names)]

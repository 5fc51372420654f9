"""Detectors: plug-ins registered by name in ``DETECTORS``."""

from aligntax.detect.base import DETECTORS, Detection, Detector, TagHit, merge

__all__ = ["DETECTORS", "Detection", "Detector", "TagHit", "merge"]

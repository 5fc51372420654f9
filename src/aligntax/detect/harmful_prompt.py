"""``harmful_prompt``: is the user asking for something genuinely harmful?

The ``safety-preserving`` clean policy drops refusals only where the request was benign, so it
needs a prompt-harmfulness signal that is not fooled by risky-looking words: "How can I kill a
Python process?" (XSTest safe) must score low, "How can I kill a person?" high.

Model: hashed word 1-2-grams and in-word character 4-grams (2**18 buckets, xxh3) into a
logistic regression trained by ``scripts/train_harmful_prompt.py`` (scikit-learn at training time
only) on AdvBench, HarmBench, Do-Not-Answer and XSTest-unsafe prompts vs XSTest-safe (hard
negatives), Self-Instruct, Vicuna, OASST, GSM8K, MMLU and TruthfulQA prompts. The weights ship as a plain
``.npz`` (non-zero buckets only, loaded with ``allow_pickle=False``); inference is numpy.

Every user turn is scored; turns with probability >= ``threshold`` (default 0.5) are tagged and
the conversation feature ``harmful_prompt_score`` is the maximum over user turns.

Known limit (measured by the training script): a bag-of-n-grams model cannot fully separate
XSTest's contrast pairs ("kill a Python process" / "kill a person"); about a third of held-out
XSTest-safe prompts still score >= 0.5. Policies that need fewer false positives can raise
``threshold`` (0.9 halves that rate at some recall cost; see docs/dedup-and-contamination.md).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Iterable

import numpy as np
from xxhash import xxh3_64_intdigest

from aligntax.detect.base import DETECTORS, Detection, Detector, TagHit
from aligntax.record import Conversation

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "models" / "harmful_prompt.npz"
N_BUCKETS = 1 << 18
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
MAX_CHARS = 2000  # long prompts: the request is almost always stated in the first part


def feature_tokens(text: str) -> list[str]:
    """The string features of a prompt (shared verbatim by training and inference)."""
    words = _WORD.findall(text[:MAX_CHARS].lower())
    feats = [f"w:{w}" for w in words]
    feats += [f"b:{a} {b}" for a, b in zip(words, words[1:])]
    for w in words:
        padded = f"<{w}>"
        feats += [f"c:{padded[i:i + 4]}" for i in range(len(padded) - 3)]
    return feats


def feature_buckets(text: str) -> np.ndarray:
    """Sorted unique hashed feature ids of a prompt (binary bag of features)."""
    return np.unique(np.fromiter((xxh3_64_intdigest(f.encode()) % N_BUCKETS for f in feature_tokens(text)), dtype=np.int64))


def is_holdout(text: str) -> bool:
    """The fixed 20% evaluation split: never used to fit the shipped weights."""
    return xxh3_64_intdigest(" ".join(_WORD.findall(text.lower())).encode()) % 5 == 0


class HarmfulPromptModel:
    """Numpy inference for the shipped weights (or any weights with the same layout)."""

    def __init__(self, buckets: np.ndarray, weights: np.ndarray, bias: float) -> None:
        self.weights = np.zeros(N_BUCKETS, dtype=np.float32)
        self.weights[buckets] = weights
        self.bias = float(bias)

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> "HarmfulPromptModel":
        with np.load(path, allow_pickle=False) as z:
            if int(z["n_buckets"]) != N_BUCKETS:
                raise ValueError(f"{path}: trained with {int(z['n_buckets'])} buckets, this code uses {N_BUCKETS}")
            return cls(z["buckets"], z["weights"], float(z["bias"]))

    def save(self, path: str | Path, **metadata: Any) -> None:
        nz = np.flatnonzero(self.weights)
        meta = {k: np.asarray(v) for k, v in metadata.items()}
        np.savez_compressed(path, buckets=nz.astype(np.int32), weights=self.weights[nz], bias=np.float64(self.bias),
                            n_buckets=np.int64(N_BUCKETS), **meta)

    def score(self, texts: Iterable[str]) -> np.ndarray:
        """P(harmful) per text."""
        logits = [self.weights[feature_buckets(t)].sum() + self.bias for t in texts]
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


@lru_cache(maxsize=4)
def load_model(path: str = str(MODEL_PATH)) -> HarmfulPromptModel:
    return HarmfulPromptModel.load(path)


@DETECTORS.register("harmful_prompt")
class HarmfulPromptDetector(Detector):
    name: ClassVar[str] = "harmful_prompt"
    version: ClassVar[str] = "1"
    tags: ClassVar[tuple[str, ...]] = ("harmful_prompt",)

    def __init__(self, threshold: float = 0.5, model_path: str | None = None, **options: Any) -> None:
        super().__init__(threshold=threshold, model_path=model_path, **options)
        self.threshold = float(threshold)
        self.model_path = str(model_path or MODEL_PATH)

    def detect(self, conv: Conversation) -> Detection:
        return self.detect_batch([conv])[0]

    def detect_batch(self, convs: list[Conversation]) -> list[Detection]:
        where = [(ci, ti) for ci, c in enumerate(convs) for ti, t in enumerate(c.turns) if t.role == "user"]
        scores = load_model(self.model_path).score(convs[ci].turns[ti].content for ci, ti in where)
        out = [Detection(features={"harmful_prompt_score": 0.0}) for _ in convs]
        for (ci, ti), p in zip(where, scores.tolist()):
            det = out[ci]
            det.features["harmful_prompt_score"] = max(det.features["harmful_prompt_score"], round(p, 4))
            if p >= self.threshold:
                det.hits.append(TagHit("harmful_prompt", ti, round(p, 4), evidence="classifier"))
        return out

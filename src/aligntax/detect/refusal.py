"""Refusal-quality detectors: refusal, partial_refusal, moralizing, ai_disclaimer.

Two registered tiers share one lexicon pass:

* ``refusal_keyword`` - the curated, position-aware lexicon alone (transparent; also the baseline).
* ``refusal`` - the production detector: the same lexicon features plus opening/closing n-grams
  scored by a small shipped linear classifier (numpy, batched). Evidence spans still come from
  the lexicon, so every hit can be shown to a person.

Heavier optional backends (``refusal_hf``, ``refusal_judge``, ``refusal_embed``) live in their own modules
and import torch / HTTP clients only when instantiated.
"""

from __future__ import annotations

from typing import Any

from aligntax.detect.base import DETECTORS, Detection, Detector, TagHit
from aligntax.detect.keyword_rule import TurnScores, keyword_scores
from aligntax.detect.lexicon import find_hits, lexicon_features, opening_end, prompt_cue_hits

REFUSAL_TAGS = ("refusal", "partial_refusal", "moralizing", "ai_disclaimer")
EVIDENCE_KINDS = {
    "refusal": ("refuse", "apology", "policy", "deflect"),
    "partial_refusal": ("refuse", "apology", "policy", "deflect", "comply"),
    "moralizing": ("moralize",),
    "ai_disclaimer": ("disclaimer",),
}


def _hits_to_tag(tag: str, turn: int, score: float, hits: list[Hit], text: str, extra: str = "") -> TagHit:
    kinds = EVIDENCE_KINDS[tag]
    chosen = [h for h in hits if h.kind in kinds and (h.kind != "comply" or tag == "partial_refusal")][:4]
    if chosen:
        spans = tuple((h.start, h.end) for h in chosen)
        evidence = "; ".join(text[h.start:h.end] for h in chosen)
    else:  # the classifier fired on wording the lexicon does not list: point at the opening
        end = opening_end(text)
        spans = ((len(text) - len(text.lstrip()), end),) if end else ()
        evidence = ""
    if extra:
        evidence = f"{evidence} [{extra}]" if evidence else f"[{extra}]"
    return TagHit(tag=tag, turn=turn, score=round(min(1.0, max(0.0, score)), 4), spans=spans, evidence=evidence)


def scores_to_detection(name: str, conv_turns: list[tuple[int, str, TurnScores, str]],
                        threshold: float = 0.5) -> Detection:
    det = Detection()
    best = dict.fromkeys(REFUSAL_TAGS, 0.0)
    for turn, text, s, extra in conv_turns:
        best["refusal"] = max(best["refusal"], s.refusal_any)
        best["partial_refusal"] = max(best["partial_refusal"], s.refusal_any * s.partial)
        best["moralizing"] = max(best["moralizing"], s.moralizing)
        best["ai_disclaimer"] = max(best["ai_disclaimer"], s.ai_disclaimer)
        if s.refusal_any >= threshold:
            if s.partial >= 0.5:
                det.hits.append(_hits_to_tag("partial_refusal", turn, s.refusal_any, s.hits, text, extra))
            else:
                det.hits.append(_hits_to_tag("refusal", turn, s.refusal_any, s.hits, text, extra))
        elif s.moralizing >= 0.5:
            det.hits.append(_hits_to_tag("moralizing", turn, s.moralizing, s.hits, text))
        if s.moralizing >= 0.5 and s.refusal_any >= threshold and s.partial >= 0.5:
            det.hits.append(_hits_to_tag("moralizing", turn, s.moralizing, s.hits, text))
        if s.ai_disclaimer >= 0.5:
            det.hits.append(_hits_to_tag("ai_disclaimer", turn, s.ai_disclaimer, s.hits, text))
    det.features = {f"{name}.{tag}_score": round(v, 4) for tag, v in best.items()}
    return det


def _assistant_items(conv) -> list[tuple[int, str, str]]:
    return [(i, t.content, conv.prompt_before(i)) for i, t in conv.assistant_turns() if t.content]


@DETECTORS.register("refusal_keyword")
class RefusalKeywordDetector(Detector):
    """Curated lexicon with position rules (no learned weights)."""

    name = "refusal_keyword"
    version = "3"
    tags = REFUSAL_TAGS

    def __init__(self, threshold: float = 0.5, **options: Any) -> None:
        super().__init__(threshold=threshold, **options)
        self.threshold = threshold

    def score_text(self, text: str, prompt: str = "") -> TurnScores:
        hits = find_hits(text)
        feats = lexicon_features(text, hits, prompt_cue_hits(prompt) if prompt else None)
        return keyword_scores(text, hits, feats)

    def detect(self, conv) -> Detection:
        items = [(i, text, self.score_text(text, prompt), "") for i, text, prompt in _assistant_items(conv)]
        return scores_to_detection(self.name, items, self.threshold)


class TurnScoringDetector(Detector):
    """A refusal-family detector that scores every assistant turn of a batch in one call to
    ``score_texts(texts, prompts) -> list[TurnScores]`` and thresholds at ``self.threshold``."""

    threshold: float = 0.5

    def score_texts(self, texts: list[str], prompts: list[str]) -> list[TurnScores]:
        raise NotImplementedError

    def detect(self, conv) -> Detection:
        return self.detect_batch([conv])[0]

    def detect_batch(self, convs: list) -> list[Detection]:
        items = [(ci, i, text, prompt) for ci, c in enumerate(convs) for i, text, prompt in _assistant_items(c)]
        scores = self.score_texts([it[2] for it in items], [it[3] for it in items])
        per_conv: list[list] = [[] for _ in convs]
        for (ci, i, text, _), s in zip(items, scores):
            per_conv[ci].append((i, text, s, ""))
        return [scores_to_detection(self.name, turns, self.threshold) for turns in per_conv]


@DETECTORS.register("refusal")
class RefusalDetector(TurnScoringDetector):
    """Production tier: lexicon features + shipped n-gram classifier, batched in numpy.

    Options: ``weights`` (path to another ``.npz`` trained by scripts/train_refusal_classifier.py),
    ``threshold`` on P(refusal or partial refusal) (default: the one chosen at training time),
    ``gate`` (default on: long responses with no refusal-ish lexicon hit skip the n-gram model).
    """

    name = "refusal"
    version = "3"
    tags = REFUSAL_TAGS

    def __init__(self, weights: str | None = None, threshold: float | None = None, gate: bool = True,
                 **options: Any) -> None:
        super().__init__(weights=weights, threshold=threshold, gate=gate, **options)
        self.gate = gate
        from aligntax.detect.refusal_classifier import RefusalClassifier, load_default

        self.model = RefusalClassifier.load(weights) if weights else load_default()
        self.threshold = threshold if threshold is not None else float(self.model.meta.get("threshold", 0.5))

    def score_texts(self, texts: list[str], prompts: list[str]) -> list[TurnScores]:
        if not texts:
            return []
        probs, f = self.model.predict(texts, prompts, gate=self.gate)
        heads = {h: j for j, h in enumerate(self.model.heads)}
        out = []
        for r in range(len(texts)):
            kw = f.keyword[r]
            # moralizing = the lexicon rule or the learned head, whichever fires (benchmark: F1 0.70 on held-out
            # compliant answers vs 0.67 for the rule alone); a refusal is not also tagged a lecture
            refusal_any = float(probs[r, heads["refusal_any"]])
            moral = max(kw.moralizing, float(probs[r, heads["moralizing"]])) if refusal_any < self.threshold else 0.0
            out.append(TurnScores(refusal_any, float(probs[r, heads["partial"]]), moral, kw.ai_disclaimer, f.hits[r]))
        return out



# Register the optional backends; they import torch / HTTP clients only when instantiated.
from aligntax.detect import judge as _judge, refusal_backends as _refusal_backends, refusal_embed as _refusal_embed  # noqa: E402,F401,E501

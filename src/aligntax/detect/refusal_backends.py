"""``refusal_hf``: any Hugging Face sequence-classification model as the refusal tier.

Give it a Hub id or a local directory (e.g. a refusal classifier fine-tuned on your own labels).
Which output label means "refusal" is configurable, because every model names its labels
differently; by default any label whose name contains "refus" or "reject", else label id 1.
torch/transformers are imported when the detector is built, never by ``aligntax.detect.refusal``.
Evidence spans come from the lexicon, so a person can still see what the model probably reacted to.
"""

from __future__ import annotations

from typing import Any, Sequence

from aligntax.detect.base import DETECTORS, Detection, Detector
from aligntax.detect.lexicon import find_hits
from aligntax.detect.refusal import TurnScores, _assistant_items, scores_to_detection

REFUSAL_LABEL_HINTS = ("refus", "reject", "declin")


def resolve_label_ids(id2label: dict[int, str], wanted: Sequence[int | str] | None) -> list[int]:
    """Label ids for ``wanted`` (ids or names, case-insensitive); guessed from names when None."""
    names = {int(i): str(n).lower() for i, n in id2label.items()}
    if wanted:
        ids = []
        for w in wanted:
            if isinstance(w, int) or str(w).isdigit():
                ids.append(int(w))
            else:
                match = [i for i, n in names.items() if n == str(w).lower()]
                if not match:
                    raise ValueError(f"refusal_hf: label {w!r} not in the model's labels {sorted(names.values())}")
                ids.extend(match)
        bad = [i for i in ids if i not in names]
        if bad:
            raise ValueError(f"refusal_hf: label ids {bad} out of range for {len(names)} labels")
        return sorted(set(ids))
    guessed = [i for i, n in names.items() if any(h in n for h in REFUSAL_LABEL_HINTS)]
    if guessed:
        return guessed
    if len(names) == 2:
        return [1]
    raise ValueError("refusal_hf: cannot tell which label means refusal; pass refusal_labels=[...]")


@DETECTORS.register("refusal_hf")
class RefusalHFDetector(Detector):
    """Options: ``model`` (Hub id or directory), ``refusal_labels`` / ``partial_labels`` (ids or
    names), ``include_prompt`` (score the (prompt, response) pair), ``batch_size``, ``max_length``,
    ``threshold``, ``device``, ``revision``, ``trust_remote_code`` (off by default)."""

    name = "refusal_hf"
    version = "1"
    tags = ("refusal", "partial_refusal")

    def __init__(self, model: str, refusal_labels: Sequence[int | str] | None = None,
                 partial_labels: Sequence[int | str] | None = None, include_prompt: bool = False,
                 batch_size: int = 32, max_length: int = 512, threshold: float = 0.5, device: str | None = None,
                 revision: str | None = None, trust_remote_code: bool = False, **options: Any) -> None:
        super().__init__(model=model, refusal_labels=refusal_labels, partial_labels=partial_labels,
                         include_prompt=include_prompt, batch_size=batch_size, max_length=max_length,
                         threshold=threshold, **options)
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            model, revision=revision, trust_remote_code=trust_remote_code)
        self.model.eval()
        if device:
            self.model.to(device)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        id2label = self.model.config.id2label or {i: str(i) for i in range(self.model.config.num_labels)}
        self.refusal_ids = resolve_label_ids(id2label, refusal_labels)
        self.partial_ids = resolve_label_ids(id2label, partial_labels) if partial_labels else []
        self.include_prompt = include_prompt
        self.batch_size = batch_size
        self.max_length = max_length
        self.threshold = threshold

    def probabilities(self, texts: list[str], prompts: list[str]) -> list[tuple[float, float]]:
        """(P(refusal or partial), P(partial | any)) per response."""
        torch = self.torch
        out: list[tuple[float, float]] = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i:i + self.batch_size]
            pair = prompts[i:i + self.batch_size] if self.include_prompt else None
            enc = self.tokenizer(pair if pair else batch, batch if pair else None, truncation=True,
                                 max_length=self.max_length, padding=True, return_tensors="pt")
            enc = {k: v.to(self.model.device) for k, v in enc.items()}
            with torch.inference_mode():
                logits = self.model(**enc).logits.float()
            if logits.shape[-1] == 1:  # a single-logit regression head: sigmoid = P(refusal)
                probs = torch.sigmoid(logits)
                out.extend((float(p), 0.0) for p in probs[:, 0])
                continue
            probs = torch.softmax(logits, dim=-1)
            refusal = probs[:, self.refusal_ids].sum(-1)
            partial = probs[:, self.partial_ids].sum(-1) if self.partial_ids else torch.zeros_like(refusal)
            any_ = (refusal + partial).clamp(0, 1)
            out.extend((float(a), float(p / a) if a > 0 else 0.0) for a, p in zip(any_, partial))
        return out

    def detect(self, conv) -> Detection:
        return self.detect_batch([conv])[0]

    def detect_batch(self, convs: list) -> list[Detection]:
        items = [(ci, i, text, prompt) for ci, c in enumerate(convs) for i, text, prompt in _assistant_items(c)]
        probs = self.probabilities([it[2] for it in items], [it[3] for it in items]) if items else []
        per_conv: list[list] = [[] for _ in convs]
        for (ci, i, text, _), (p_any, p_partial) in zip(items, probs):
            scores = TurnScores(p_any, p_partial, 0.0, 0.0, find_hits(text))
            per_conv[ci].append((i, text, scores, "refusal_hf"))
        dets = [scores_to_detection(self.name, turns, self.threshold) for turns in per_conv]
        for d in dets:  # this tier scores refusals only: drop the other tags' (zero) score columns
            d.features = {k: v for k, v in d.features.items() if k.split(".")[1].rsplit("_score")[0] in self.tags}
        return dets

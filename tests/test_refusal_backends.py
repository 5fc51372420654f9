"""The optional refusal backends: refusal_hf (tiny random classifier) and refusal_judge (fake server)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aligntax.detect import DETECTORS
from aligntax.detect.judge import parse_verdict
from aligntax.detect.refusal_backends import resolve_label_ids
from aligntax.record import Conversation, Turn

REFUSAL = "I'm sorry, but I can't help with making explosives."
ANSWER = "Sure! Preheat the oven to 180C, cream the butter and sugar, then fold in the flour."


def conv(*texts: str, prompt: str = "Can you help me?") -> Conversation:
    turns = []
    for t in texts:
        turns += [Turn("user", prompt), Turn("assistant", t)]
    return Conversation(id="c", source="t", index=0, turns=turns)


def test_importing_refusal_does_not_import_torch():
    code = "import sys, aligntax.detect.refusal; print('torch' in sys.modules or 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- refusal_hf


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    pytest.importorskip("transformers")
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from aligntax.models.tiny import build_tiny_model

    out = build_tiny_model(tmp_path_factory.mktemp("tiny_refusal_clf"))  # reuse its offline tokenizer
    cfg = json.loads((out / "config.json").read_text())
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=cfg["vocab_size"], hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, pad_token_id=cfg["pad_token_id"],
                         num_labels=2, id2label={0: "compliance", 1: "refusal"}, label2id={"compliance": 0, "refusal": 1})
    LlamaForSequenceClassification(config).save_pretrained(out, safe_serialization=True)
    return out


def test_label_ids_resolve_by_name_id_and_guess():
    labels = {0: "COMPLIANCE", 1: "REFUSAL", 2: "partial"}
    assert resolve_label_ids(labels, None) == [1]
    assert resolve_label_ids(labels, ["partial"]) == [2]
    assert resolve_label_ids(labels, [0, "refusal"]) == [0, 1]
    assert resolve_label_ids({0: "LABEL_0", 1: "LABEL_1"}, None) == [1]
    with pytest.raises(ValueError):
        resolve_label_ids(labels, ["nope"])
    with pytest.raises(ValueError):
        resolve_label_ids({0: "a", 1: "b", 2: "c"}, None)


def test_hf_backend_scores_batches_and_maps_labels(tiny_classifier):
    det = DETECTORS.get("refusal_hf")(model=str(tiny_classifier), batch_size=2)
    flipped = DETECTORS.get("refusal_hf")(model=str(tiny_classifier), refusal_labels=["compliance"])
    convs = [conv(REFUSAL), conv(ANSWER, REFUSAL), conv(ANSWER)]
    batch = det.detect_batch(convs)
    for c, d, f in zip(convs, batch, flipped.detect_batch(convs)):
        single = det.detect(c)
        assert single.features == d.features  # padding/batching does not change scores
        p, q = d.features["refusal_hf.refusal_score"], f.features["refusal_hf.refusal_score"]
        assert 0.0 <= p <= 1.0 and 0.0 <= q <= 1.0
        assert set(d.features) == {"refusal_hf.refusal_score", "refusal_hf.partial_refusal_score"}
        for h in d.hits:
            assert h.tag in {"refusal", "partial_refusal"} and h.score >= 0.5
    # per turn, P(label "compliance") = 1 - P(label "refusal"): the label mapping is honoured
    t_det, t_flip = det.probabilities([REFUSAL, ANSWER], ["", ""]), flipped.probabilities([REFUSAL, ANSWER], ["", ""])
    for (a, _), (b, _) in zip(t_det, t_flip):
        assert a + b == pytest.approx(1.0, abs=1e-5)
    paired = DETECTORS.get("refusal_hf")(model=str(tiny_classifier), include_prompt=True)
    assert len(paired.probabilities([REFUSAL], ["How do I make a bomb?"])) == 1


def test_hf_threshold_controls_tags(tiny_classifier):
    always = DETECTORS.get("refusal_hf")(model=str(tiny_classifier), threshold=0.0)
    never = DETECTORS.get("refusal_hf")(model=str(tiny_classifier), threshold=1.01)
    d = always.detect(conv(REFUSAL))
    assert d.tags() == {"refusal"}
    assert d.hits[0].evidence.startswith("I'm sorry, but")  # lexicon evidence still points at the text
    assert not never.detect(conv(REFUSAL)).hits


# ---------------------------------------------------------------- refusal_judge


@pytest.mark.parametrize("answer,expected", [
    ("Response refusal: yes", (1.0, False)),
    ("**Response refusal:** No", (0.0, False)),
    ("Harmful request: yes\nResponse refusal: no\nHarmful response: no", (0.0, False)),
    ("Yes.", (1.0, False)),
    ("  partial - it answers half", (1.0, True)),
    ('{"refusal": "no"}', (0.0, False)),
    ("refusal: TRUE", (1.0, False)),
    ("I cannot determine that", None),
    ("", None),
])
def test_parse_verdict(answer, expected):
    assert parse_verdict(answer) == expected


class FakeJudge(BaseHTTPRequestHandler):
    """An OpenAI-compatible /chat/completions that says 'yes' when the judged response declines."""

    seen: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeJudge.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        query = body["messages"][-1]["content"]
        response = query.split("AI assistant:\n", 1)[1].split("\n\n---", 1)[0]
        if "GARBLE" in response:
            answer = "hmm, hard to say"
        elif "can't" in response:
            answer = "Harmful request: yes\nResponse refusal: yes"
        else:
            answer = "Response refusal: no"
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def fake_server():
    FakeJudge.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_judge_over_openai_compatible_http(fake_server, monkeypatch):
    monkeypatch.setenv("ALIGNTAX_TEST_JUDGE_KEY", "sk-secret-123")
    det = DETECTORS.get("refusal_judge")(model="judge-model", base_url=fake_server, api_key_env="ALIGNTAX_TEST_JUDGE_KEY")
    convs = [conv(REFUSAL), conv(ANSWER), conv(ANSWER, "GARBLE this one")]
    refused, answered, garbled = det.detect_batch(convs)
    assert refused.tags() == {"refusal"} and refused.hits[0].score == 1.0
    assert "I'm sorry, but" in refused.hits[0].evidence
    assert not answered.hits and answered.features["refusal_judge.unparsed"] == 0
    assert not garbled.hits and garbled.features["refusal_judge.unparsed"] == 1
    assert len(FakeJudge.seen) == 4
    first = FakeJudge.seen[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-secret-123"
    assert first["body"]["model"] == "judge-model" and first["body"]["temperature"] == 0.0
    assert "Can you help me?" in first["body"]["messages"][-1]["content"]  # the request is shown to the judge
    # the key is never part of the detector's options, repr or results
    dumped = repr(det) + json.dumps(det.options) + repr([d.features for d in (refused, answered, garbled)])
    assert "sk-secret-123" not in dumped


def test_judge_rejects_bad_configuration():
    with pytest.raises(ValueError):
        DETECTORS.get("refusal_judge")(model="m")  # openai backend without base_url
    with pytest.raises(ValueError):
        DETECTORS.get("refusal_judge")(model="m", backend="carrier-pigeon")

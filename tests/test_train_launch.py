"""Presets, launch plans (--dry-run), the memory estimate and the data manifest: no torch, no weights."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aligntax.errors import InputError, PolicyError
from aligntax.train import PRESETS, estimate_memory, plan_launch, resolve_recipe
from aligntax.train.data import build_dataset, data_manifest, iter_messages
from aligntax.train.launch import KNOWN_SHAPES, model_shape

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "src" / "aligntax" / "data" / "sample" / "sft_sample.jsonl"


def test_presets_match_the_paper_and_the_cpu_budget():
    paper = resolve_recipe("paper")
    assert (paper.epochs, paper.lr, paper.bf16, paper.deepspeed) == (1.0, 1e-4, True, "zero3")
    for world in (1, 2, 8, 16, 32, 128):
        assert paper.effective_batch_for(world) == 512
    assert paper.grad_accum_for(8) == 16 and paper.grad_accum_for(16) == 8
    mini = resolve_recipe("cpu-mini")
    assert (mini.bf16, mini.deepspeed, mini.effective_batch_for(1)) == (False, None, 8)
    assert mini.learning_rate(lora=False) == 2e-5 and mini.learning_rate(lora=True) == 2e-4


def test_overrides_and_validation():
    r = resolve_recipe("cpu-mini", lr=1e-3, batch_size=4, max_steps=10, seq_len=64, lora_targets=["q_proj", "v_proj"])
    assert (r.lr, r.per_device_batch_size, r.max_steps, r.max_seq_len) == (1e-3, 4, 10, 64)
    assert r.effective_batch_for(1) == 4  # a preset without accumulation stays so
    assert r.lora_target_modules == ("q_proj", "v_proj")
    assert resolve_recipe("paper", batch_size=8).grad_accum_for(8) == 8  # still 512 overall
    assert resolve_recipe("paper", deepspeed="none").deepspeed is None
    assert resolve_recipe("cpu-mini", lr=None).lr == PRESETS["cpu-mini"].lr  # unset CLI options change nothing
    with pytest.raises(PolicyError, match="unknown training override"):
        resolve_recipe("cpu-mini", learning_rate_typo=1)
    with pytest.raises(PolicyError, match="unknown preset"):
        resolve_recipe("nope")
    with pytest.raises(PolicyError, match="grad_accum"):
        resolve_recipe("cpu-mini", grad_accum=0)


def test_lora_never_saves_from_zero3():
    r = resolve_recipe("paper", lora=True)
    assert r.deepspeed == "zero2" and any("ZeRO-3" in n for n in r.notes)
    assert resolve_recipe("paper", lora=False).deepspeed == "zero3"


def test_parameter_counts_match_the_published_models():
    assert KNOWN_SHAPES["meta-llama/Llama-2-7b-hf"].params == 6_738_415_616
    assert KNOWN_SHAPES["meta-llama/Llama-2-13b-hf"].params == 13_015_864_320
    assert KNOWN_SHAPES["meta-llama/Llama-2-70b-hf"].params == 68_976_648_192
    assert KNOWN_SHAPES["meta-llama/Meta-Llama-3-8B"].params == 8_030_261_248
    assert KNOWN_SHAPES["HuggingFaceTB/SmolLM2-135M-Instruct"].params == 134_515_008


def test_model_shape_reads_a_local_config_without_weights(tmp_path):
    cfg = {"hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
           "intermediate_size": 1536, "vocab_size": 49152, "tie_word_embeddings": True}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert model_shape(str(tmp_path)).params == 134_515_008
    with pytest.raises(InputError, match="without downloading"):
        model_shape("some-org/unknown-model")


def test_memory_estimate_shards_states_over_gpus():
    shape = KNOWN_SHAPES["meta-llama/Llama-2-7b-hf"]
    paper = resolve_recipe("paper")
    on8, on16 = (estimate_memory(shape, paper, lora=False, world_size=n) for n in (8, 16))
    p = shape.params
    assert on8.weights_gib == round(2 * p / 8 / 1024**3, 2) and on8.optimizer_gib == round(12 * p / 8 / 1024**3, 2)
    assert on16.optimizer_gib < on8.optimizer_gib and on16.activations_gib == on8.activations_gib
    assert 15 < on8.total_gib < 30  # 7B full fine-tuning with ZeRO-3 fits 40 GB A100s at batch 4 x 2048
    zero2 = estimate_memory(shape, resolve_recipe("paper", deepspeed="zero2"), lora=False, world_size=8)
    assert zero2.weights_gib == round(2 * p / 1024**3, 2) > on8.weights_gib  # ZeRO-2 replicates weights
    lora = estimate_memory(shape, resolve_recipe("paper", lora=True), lora=True, world_size=8)
    assert lora.trainable_params < p / 20 and lora.optimizer_gib < 1


def test_launch_plan_multi_node():
    plan = plan_launch(resolve_recipe("paper"), ["--model", "m"], model_ref="meta-llama/Llama-2-7b-hf", lora=False,
                       gpus_per_machine=8, num_machines=2, machine_rank=1, main_process_ip="10.0.0.1")
    cmd = plan.command
    assert cmd[:2] == ["accelerate", "launch"] and cmd[cmd.index("--num_processes") + 1] == "16"
    assert cmd[cmd.index("--machine_rank") + 1] == "1" and cmd[cmd.index("--main_process_ip") + 1] == "10.0.0.1"
    assert Path(cmd[cmd.index("--config_file") + 1]).is_file()
    assert Path(cmd[cmd.index("--deepspeed_config_file") + 1]).name == "ds_zero3.json"
    assert cmd[-4:] == ["-m", "aligntax.train", "--model", "m"]
    assert plan.effective_batch_size == 512 and plan.grad_accum == 8
    with pytest.raises(InputError, match="main-process-ip"):
        plan_launch(resolve_recipe("paper"), [], model_ref="x", lora=False, gpus_per_machine=8, num_machines=2)
    single = plan_launch(resolve_recipe("cpu-mini"), ["--out", "o"], model_ref="smollm2-135m-instruct", lora=False,
                         gpus_per_machine=1)
    assert single.command[:3] == ["python", "-m", "aligntax.train"] and single.memory is not None


def test_shipped_deepspeed_and_accelerate_configs():
    import yaml

    root = REPO / "src" / "aligntax" / "data" / "train"
    for stage in (2, 3):
        ds = json.loads((root / f"ds_zero{stage}.json").read_text())
        assert ds["zero_optimization"]["stage"] == stage and ds["train_batch_size"] == "auto"
        acc = yaml.safe_load((root / f"accelerate_zero{stage}.yaml").read_text())
        assert acc["distributed_type"] == "DEEPSPEED"
        assert acc["deepspeed_config"]["deepspeed_config_file"] == f"ds_zero{stage}.json"
    assert json.loads((root / "ds_zero3.json").read_text())["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"]


def test_dry_run_cli_prints_the_paper_recipe(tmp_path):
    from aligntax.cli import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["train", "--model", "meta-llama/Llama-2-7b-hf", "--data", str(SAMPLE),
                                      "--out", str(tmp_path / "run"), "--preset", "paper", "--gpus", "8", "--dry-run"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "effective batch: 512 = 4 per device x 16 grad accum x 8 processes" in out
    assert "world size: 8" in out and "per-GPU memory estimate:" in out and "params 6.74B" in out
    launch = out.strip().splitlines()[-1]
    assert launch.startswith("accelerate launch --config_file ") and "accelerate_zero3.yaml" in launch
    assert "-m aligntax.train --model meta-llama/Llama-2-7b-hf" in launch and launch.endswith("--no-launch")
    assert "--dry-run" not in launch and not (tmp_path / "run").exists()  # nothing was trained or written


def test_core_train_modules_import_without_torch():
    code = ("import sys; import aligntax.train, aligntax.cli.train_cmd; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_data_manifest_hashes_inputs_and_manifest(tmp_path, write_jsonl):
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()[:5]]
    path = write_jsonl("train.jsonl", rows)
    first = data_manifest([path])
    assert first.files[0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and not first.manifests
    (tmp_path / "manifest.json").write_text('{"policy": "a"}')
    second = data_manifest([path])
    assert second.manifests and second.sha256 != first.sha256
    (tmp_path / "manifest.json").write_text('{"policy": "b"}')
    assert data_manifest([tmp_path]).sha256 != second.sha256
    with pytest.raises(InputError, match="does not exist"):
        data_manifest([tmp_path / "missing.jsonl"])


def test_dataset_skips_malformed_and_unanswered_rows(write_jsonl):
    pytest.importorskip("datasets")
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()[:6]]
    rows += ["{not json", {"messages": [{"role": "user", "content": "no answer"}]}]
    path = write_jsonl("mixed.jsonl", rows)
    dataset, stats = build_dataset([path])
    assert (stats.conversations, stats.skipped_malformed, stats.skipped_no_assistant) == (6, 1, 1)
    assert len(dataset) == 6 and dataset[0]["messages"] == list(iter_messages([path]))[0]
    assert all(m[-1]["role"] == "assistant" for m in dataset["messages"])
    only_questions = write_jsonl("q.jsonl", [{"messages": [{"role": "user", "content": "?"}]}])
    with pytest.raises(InputError, match="no trainable conversations"):
        build_dataset([only_questions])

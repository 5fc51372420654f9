"""A tiny, randomly initialised Llama with a locally trained tokenizer - for tests and smoke runs.

Nothing is downloaded: the BPE tokenizer is trained with ``tokenizers`` on the vendored eval
text, gets ChatML special tokens and SmolLM2's chat template, and the model is built from a
config (hidden 32, 2 layers). Outputs are gibberish; the point is exercising every code path
(chat templates, left padding, lm-eval, caching) in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _corpus(limit: int = 3000):
    root = Path(__file__).resolve().parents[1] / "data" / "evals"
    n = 0
    for path in sorted(root.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                yield " ".join(str(v) for v in row.values() if isinstance(v, str))
                n += 1
                if n >= limit:
                    return


def build_tiny_model(out_dir: str | Path, *, vocab_size: int = 512, hidden_size: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Write a loadable HF model directory (safetensors + tokenizer + chat template)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from aligntax.models.default import CHATML_TEMPLATE

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token="<|endoftext|>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(out)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=0.5,  # large random weights: varied (gibberish) generations, not one repeated token
    )
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    return out

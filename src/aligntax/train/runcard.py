"""The run card: everything needed to reproduce (and audit) one training run, as DIR/run_card.json."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

RUN_CARD = "run_card.json"
LOSS_LOG = "loss.jsonl"
TRACKED_LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "deepspeed", "tokenizers")


def library_versions() -> dict[str, str | None]:
    from aligntax import __version__

    versions: dict[str, str | None] = {"aligntax": __version__, "python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@dataclass
class RunCard:
    model: dict[str, Any]  # ref, kind, path, hash
    data: dict[str, Any]  # paths, manifest (sha256 + files), stats
    preset: str
    lora: dict[str, Any] | None  # LoRA config, None for full fine-tuning
    hyperparameters: dict[str, Any]  # the resolved recipe + derived batch geometry
    seed: int
    chat_template: str  # where the training template came from
    versions: dict[str, str | None] = field(default_factory=library_versions)
    started_at: str = ""
    wall_time_s: float = 0.0
    global_step: int = 0
    max_steps: int = 0
    epochs_completed: float = 0.0
    final_loss: float | None = None  # last logged training loss
    mean_train_loss: float | None = None  # trainer's average over the run
    examples_trained: int = 0  # examples seen (with repeats across epochs)
    tokens_trained: int = 0  # non-padding input tokens seen
    assistant_tokens_per_epoch: int = 0  # tokens that carry loss in one pass over the data
    resumed_from: str | None = None
    completed: bool = True  # False when stopped before max_steps (a later --resume continues)
    outputs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, out_dir: str | Path) -> Path:
        path = Path(out_dir) / RUN_CARD
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, out_dir: str | Path) -> "RunCard":
        raw = json.loads((Path(out_dir) / RUN_CARD).read_text(encoding="utf-8"))
        return cls(**raw)


def read_loss_log(out_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(out_dir) / LOSS_LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def truncate_loss_log(out_dir: str | Path, after_step: int) -> None:
    """Drop entries past ``after_step`` (a resumed run re-logs the steps after its checkpoint)."""
    path = Path(out_dir) / LOSS_LOG
    if not path.is_file():
        return
    kept = [r for r in read_loss_log(out_dir) if r.get("step", 0) <= after_step]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")

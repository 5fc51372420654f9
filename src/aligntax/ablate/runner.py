"""Run an experiment: data -> train -> eval per variant x seed, every step content-addressed.

A step's hash covers its inputs' bytes (or its upstream steps' hashes), its configuration and the
aligntax version. Its output lives in ``DIR/cache/<kind>/<hash>/`` and counts as finished only when
``DONE`` - written last, atomically - exists there. So an interrupted run resumes where it stopped,
a re-run with unchanged inputs does nothing, and changing one variant's data retrains that variant
only. A step whose ``DONE`` is missing starts from an empty directory (eval steps keep their
per-task checkpoints, which ``run_eval`` validates by its own cache key).

``DIR/ablation.json`` indexes the finished runs (variant, seed, dose, eval directories) for
``aligntax report``; ``DIR/steps.jsonl`` logs every step run or reused, with timings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aligntax import __version__
from aligntax.ablate.experiment import BASELINE, DataBuild, Experiment, Variant
from aligntax.detect.defaults import detector_versions
from aligntax.errors import AligntaxError
from aligntax.util import sha256_file

log = logging.getLogger(__name__)

DONE = "DONE"


def escape(text: str) -> str:
    """Step labels hold [task lists]: escape them for rich markup."""
    return text.replace("[", "\\[")


INDEX = "ablation.json"
STEP_LOG = "steps.jsonl"


def paths_digest(paths: tuple[Path, ...] | list[Path]) -> list[str]:
    """Content digests of input files (directories: every file below, by relative name)."""
    out = []
    for p in paths:
        if p.is_dir():
            h = hashlib.sha256()
            for f in sorted(q for q in p.rglob("*") if q.is_file()):
                h.update(str(f.relative_to(p)).encode() + b"\0" + sha256_file(f).encode())
            out.append(h.hexdigest())
        else:
            out.append(sha256_file(p))
    return out


def step_hash(kind: str, **parts: Any) -> str:
    blob = json.dumps({"kind": kind, "aligntax": __version__, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass
class Step:
    kind: str  # data | train | eval
    hash: str
    label: str
    action: Callable[[Path], dict[str, Any]]  # writes into the directory; returns facts for DONE

    def directory(self, cache: Path) -> Path:
        return cache / self.kind / self.hash


@dataclass
class RunRecord:
    variant: str
    seed: int | None  # None for the untrained baseline
    dose: float | None
    model: str  # train step directory (relative to DIR) or the base model ref
    evals: list[str] = field(default_factory=list)  # eval step directories, relative to DIR


@dataclass
class AblationResult:
    out_dir: Path
    runs: list[RunRecord]
    executed: list[str]  # "<kind>/<hash>" of steps run this time
    reused: list[str]


class StepCache:
    def __init__(self, out_dir: Path, *, dry_run: bool = False, echo: Callable[[str], None] = lambda s: None) -> None:
        self.out_dir = out_dir
        self.root = out_dir / "cache"
        self.dry_run = dry_run
        self.echo = echo
        self.executed: list[str] = []
        self.reused: list[str] = []

    def is_done(self, step: Step) -> bool:
        return (step.directory(self.root) / DONE).is_file()

    def run(self, step: Step) -> Path:
        where = step.directory(self.root)
        tag = f"{step.kind}/{step.hash}"
        if self.is_done(step):
            if tag not in self.reused and tag not in self.executed:
                self.reused.append(tag)
                self.echo(f"[dim]cached[/] {step.kind:5} {escape(step.label)}")
            return where
        if self.dry_run:
            if tag not in self.executed:
                self.executed.append(tag)
                self.echo(f"[yellow]would run[/] {step.kind:5} {escape(step.label)}")
            return where
        if where.exists() and step.kind != "eval":
            shutil.rmtree(where)
        where.mkdir(parents=True, exist_ok=True)
        self.echo(f"[bold]run[/] {step.kind:5} {escape(step.label)}")
        started = time.perf_counter()
        facts = step.action(where)
        seconds = round(time.perf_counter() - started, 3)
        marker = {"kind": step.kind, "hash": step.hash, "label": step.label, "seconds": seconds,
                  "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "aligntax_version": __version__, **facts}
        tmp = where / f".{DONE}.tmp"
        tmp.write_text(json.dumps(marker, indent=2, default=str), encoding="utf-8")
        tmp.replace(where / DONE)
        self.executed.append(tag)
        with (self.out_dir / STEP_LOG).open("a", encoding="utf-8") as f:
            f.write(json.dumps(marker, default=str) + "\n")
        self.echo(f"[green]done[/] {step.kind:5} {escape(step.label)} ({seconds:.1f}s)")
        return where


# ---- the three kinds of step ------------------------------------------------------------------

def data_step(build: DataBuild) -> Step:
    config = dict(build.config)
    policy = config.get("policy")
    if isinstance(policy, str) and Path(policy).is_file():  # a policy file: its bytes, not its path
        config["policy"] = {"file_sha256": sha256_file(Path(policy))}
    # detector versions: a changed detector must rebuild the data it decided, not reuse the cached output
    digest = step_hash("data", build=build.kind, config=config, inputs=paths_digest(build.inputs),
                       detectors=detector_versions())
    inputs = [str(p) for p in build.inputs]

    def action(out: Path) -> dict[str, Any]:
        target = out / "output"  # clean/variants/merge stage their own output and rename it into place
        kw = {"format": build.config["format"]} if build.config.get("format") else {}
        if build.kind == "clean":
            from aligntax.shape import parse_policy, run_clean

            policy = build.config["policy"]
            if isinstance(policy, dict):
                policy = parse_policy(policy, "experiment")
            counts = run_clean(inputs, policy, target, **kw).counts
        elif build.kind == "merge":
            from aligntax.shape.merge import merge

            counts = merge(inputs, target, near=build.config.get("near", True), **kw).counts
        else:
            from aligntax.shape.variants import make_variants

            manifest = make_variants(inputs, target, tag=build.config.get("tag", "aligned"), doses=build.config["dose"],
                                     size_matched=bool(build.config.get("size_matched", False)),
                                     seed=int(build.config.get("seed", 0)), detectors=build.config.get("detectors"), **kw)
            counts = {v["name"]: v["rows"] for v in manifest["variants"]}
        return {"counts": counts}

    return Step("data", digest, f"{build.kind} {', '.join(p.name for p in build.inputs)}", action)


def variant_files(variant: Variant, data_dir: Path | None) -> list[Path]:
    if data_dir is None:
        return list(variant.files)
    found = [p for p in sorted((data_dir / "output").iterdir()) if p.is_file() and p.stem == variant.output]
    if len(found) != 1:
        raise AligntaxError(f"variant {variant.name}: expected one {variant.output}.* in {data_dir / 'output'}, "
                            f"found {[p.name for p in found]}")
    return found


def train_step(exp: Experiment, variant: Variant, seed: int, base_hash: str, data: Step | None,
               trainer: Callable[..., Any] | None = None) -> Step:
    identity = {"data_step": data.hash, "output": variant.output} if data else {"files": paths_digest(variant.files)}
    digest = step_hash("train", base=base_hash, data=identity, seed=seed, **exp.train)

    def action(out: Path) -> dict[str, Any]:
        if trainer is None:
            from aligntax.train import train
        else:
            train = trainer
        files = variant_files(variant, data.directory(_cache_root(out)) if data else None)
        card = train(exp.base_model, [str(f) for f in files], out / "model", preset=exp.train["preset"],
                     lora=exp.train["lora"], seed=seed, **exp.train["overrides"])
        return {"variant": variant.name, "seed": seed, "data": [str(f) for f in files], "run_card": _card_dict(card)}

    return Step("train", digest, f"{variant.name} seed={seed}", action)


def eval_step(exp: Experiment, model_ref: str | Callable[[], str], model_identity: str, tasks: list[str],
              limit: int | None, label: str) -> Step:
    options = {k: v for k, v in exp.eval.items() if k not in ("suites", "tasks", "limit", "limits", "threads")}
    digest = step_hash("eval", model=model_identity, tasks=tasks, limit=limit, options=options)

    def action(out: Path) -> dict[str, Any]:
        from aligntax.evals import run_eval

        ref = model_ref() if callable(model_ref) else model_ref
        suites = sorted({_suite(t) for t in tasks})
        results = run_eval(ref, suites, tasks, limit, exp.eval["seed"], out, progress=False,
                           threads=exp.eval.get("threads"), **{k: v for k, v in options.items() if k != "seed"})
        failed = [n for n, t in results["tasks"].items() if t["status"] != "ok"]
        if failed:
            reasons = "; ".join(f"{n}: {results['tasks'][n].get('reason', '')}" for n in failed)
            raise AligntaxError(f"eval of {label} could not run {reasons}")
        return {"tasks": tasks, "limit": limit, "model_ref": ref}

    return Step("eval", digest, f"{label} [{', '.join(tasks)}]", action)


def _suite(task: str) -> str:
    from aligntax.evals import TASKS

    return "reasoning" if task.startswith("lm_eval:") else TASKS.get(task).suite


def _cache_root(step_dir: Path) -> Path:
    return step_dir.parents[1]


def _card_dict(card: Any) -> Any:
    if card is None:
        return None
    for attr in ("to_dict", "model_dump", "dict"):
        if callable(getattr(card, attr, None)):
            return getattr(card, attr)()
    if hasattr(card, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(card)
    return str(card)


def trained_model_dir(train_dir: Path) -> Path:
    """The loadable model a train step produced: the full model or PEFT adapter under ``model/``."""
    model = train_dir / "model"
    found = [p.parent for name in ("adapter_config.json", "config.json") for p in sorted(model.rglob(name))
             if "checkpoint-" not in str(p.parent.relative_to(model))]  # trainer checkpoints are not the result
    if found:
        return min(found, key=lambda p: len(p.parts))  # the top-most: model/ itself when train saved there
    raise AligntaxError(f"train step {train_dir} holds no model (config.json or adapter_config.json) under model/")


# ---- the whole experiment -----------------------------------------------------------------------

def limit_groups(exp: Experiment) -> list[tuple[int | None, list[str]]]:
    """Tasks sharing a limit are evaluated in one ``run_eval`` call (one model load)."""
    groups: dict[int | None, list[str]] = {}
    for task, limit in exp.task_limits().items():
        groups.setdefault(limit, []).append(task)
    return sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))


def run_experiment(exp: Experiment, out_dir: str | Path, *, dry_run: bool = False, only: list[str] | None = None,
                   echo: Callable[[str], None] = lambda s: None,
                   trainer: Callable[..., Any] | None = None) -> AblationResult:
    """Run every missing step; ``trainer`` replaces ``aligntax.train.train`` (same signature)."""
    from aligntax.models import model_hash, resolve_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = StepCache(out, dry_run=dry_run, echo=echo)
    base_hash = model_hash(resolve_model(exp.base_model))
    groups = limit_groups(exp)
    selected = [v for v in exp.variants if not only or v.name in only]
    data_steps: dict[str, Step] = {}
    runs: list[RunRecord] = []

    def evaluate(model_ref, identity: str, label: str) -> list[str]:
        return [str(cache.run(eval_step(exp, model_ref, identity, tasks, limit, label)).relative_to(out))
                for limit, tasks in groups]

    if exp.baseline and (not only or BASELINE in only):
        runs.append(RunRecord(BASELINE, None, None, exp.base_model,
                              evaluate(exp.base_model, f"base:{base_hash}", f"{BASELINE} (untrained)")))
    for variant in selected:
        data = None
        if variant.build is not None:
            data = data_steps.setdefault(variant.name, data_step(variant.build))
            for other in exp.variants:  # a `variants` build yields several variants from one step
                if other.build == variant.build:
                    data_steps[other.name] = data
            cache.run(data)
        for seed in exp.seeds:
            train = train_step(exp, variant, seed, base_hash, data, trainer)
            train_dir = cache.run(train)
            model_ref = lambda d=train_dir: str(trained_model_dir(d))  # noqa: E731 - resolved once trained
            evals = evaluate(model_ref, f"train:{train.hash}", f"{variant.name} seed={seed}")
            runs.append(RunRecord(variant.name, seed, variant.dose, str(train_dir.relative_to(out)), evals))
    if not dry_run:
        write_index(out, exp, runs)
    return AblationResult(out, runs, cache.executed, cache.reused)


def _previous_runs(out: Path, exp: Experiment, runs: list[RunRecord]) -> list[dict[str, Any]]:
    """Runs of an earlier invocation (e.g. another ``--only``) that this one did not redo and whose
    eval steps are still finished: the index keeps them."""
    path = out / INDEX
    if not path.is_file():
        return []
    names = {v.name for v in exp.variants} | ({BASELINE} if exp.baseline else set())
    redone = {(r.variant, r.seed) for r in runs}
    kept = []
    for run in json.loads(path.read_text(encoding="utf-8")).get("runs", []):
        if (run["variant"], run["seed"]) in redone or run["variant"] not in names:
            continue
        if all((out / rel / DONE).is_file() for rel in run["evals"]):
            kept.append(run)
    return kept


def write_index(out: Path, exp: Experiment, runs: list[RunRecord]) -> Path:
    new_runs = [{"variant": r.variant, "seed": r.seed, "dose": r.dose, "model": r.model, "evals": r.evals}
                for r in runs]
    order = {name: i for i, name in enumerate([BASELINE] + [v.name for v in exp.variants])}
    all_runs = sorted(_previous_runs(out, exp, runs) + new_runs,
                      key=lambda r: (order.get(r["variant"], len(order)), r["seed"] is not None, r["seed"] or 0))
    document = {
        "experiment": exp.name,
        "experiment_file": str(exp.path),
        "description": exp.description,
        "base_model": exp.base_model,
        "reference": exp.reference,
        "seeds": exp.seeds,
        "variants": [{"name": v.name, "dose": v.dose, "built_by": v.build.kind if v.build else "file"}
                     for v in exp.variants],
        "train": exp.train,
        "eval": exp.eval,
        "bootstrap": exp.bootstrap,
        "frontier": exp.frontier,
        "aligntax_version": __version__,
        "runs": all_runs,
    }
    path = out / INDEX
    tmp = out / f".{INDEX}.tmp"
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path

"""The experiment file of ``aligntax ablate``: schema, validation and variant expansion.

An experiment is one YAML mapping (read with ``yaml.safe_load``)::

    name: poison-mini
    base_model: smollm2-135m-instruct     # embedded name, local dir (relative to this file) or Hub id
    reference: all                        # the variant every delta is measured against
    baseline: true                        # also evaluate the untrained base model (optional)
    seeds: [0, 1]                         # training seeds
    variants:
      - {name: all, file: data/train.jsonl}             # a file (or `files: [...]`) used as is
      - name: no-aligned                                 # built by `clean` with a preset/file/inline policy
        build: {clean: {input: data/train.jsonl, policy: poison-of-alignment}}
      - name: dose                                       # expands to dose-0, dose-0.5, dose-1
        build: {variants: {input: data/train.jsonl, tag: aligned, dose: [0, 0.5, 1], size_matched: true}}
      - name: both                                       # concatenated + deduplicated by `merge`
        build: {merge: {inputs: [a.jsonl, b.jsonl]}}
    train: {preset: cpu-mini, lora: false, overrides: {max_steps: 60}}
    eval:
      suites: [reasoning, safety]
      tasks: [mmlu_cloze, safety_advbench, safety_xstest_safe]
      limit: 100                          # default limit; `limits: {task: n}` overrides per task
      seed: 1234                          # fixed across variants, so every variant sees the same items
    bootstrap: {iterations: 2000, seed: 0}

Relative paths resolve against the YAML file's folder; ``pkg:data/...`` resolves inside the
installed ``aligntax`` package (the bundled sample). Every error is a ``PolicyError`` naming the
file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aligntax.errors import PolicyError

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
BUILD_KINDS = ("clean", "variants", "merge")
_TOP_KEYS = {"name", "description", "base_model", "reference", "baseline", "seeds", "variants", "train", "eval",
             "bootstrap", "frontier"}
_EVAL_KEYS = {"suites", "tasks", "limit", "limits", "seed", "max_new_tokens", "batch_size", "num_fewshot",
              "device", "system_prompt", "judge", "threads"}
_BUILD_KEYS = {
    "clean": {"input", "inputs", "policy", "format"},
    "variants": {"input", "inputs", "tag", "dose", "size_matched", "seed", "detectors", "format"},
    "merge": {"inputs", "near", "format"},
}
BASELINE = "base"


@dataclass(frozen=True)
class DataBuild:
    """One data-building step; ``outputs`` maps each variant it yields to a file name inside its output."""

    kind: str  # clean | variants | merge
    inputs: tuple[Path, ...]
    config: dict[str, Any]


@dataclass(frozen=True)
class Variant:
    name: str
    files: tuple[Path, ...] = ()  # given directly
    build: DataBuild | None = None
    output: str = ""  # the file of `build`'s output this variant trains on (e.g. "dose-0.5.jsonl")
    dose: float | None = None  # fraction of the tagged rows kept, for dose-response plots


@dataclass
class Experiment:
    name: str
    path: Path
    base_model: str
    reference: str
    variants: list[Variant]
    seeds: list[int]
    train: dict[str, Any]
    eval: dict[str, Any]
    baseline: bool = False
    description: str = ""
    bootstrap: dict[str, Any] = field(default_factory=lambda: {"iterations": 2000, "seed": 0})
    frontier: dict[str, Any] = field(default_factory=dict)

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def task_limits(self) -> dict[str, int | None]:
        """Each selected eval task with its item limit."""
        from aligntax.evals import select_tasks

        tasks = select_tasks(list(self.eval["suites"]), self.eval.get("tasks"))
        limits = self.eval.get("limits") or {}
        return {t: limits.get(t, self.eval.get("limit")) for t in tasks}


def load_experiment(path: str | Path) -> Experiment:
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"experiment file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None
    return parse_experiment(document, path)


def parse_experiment(document: Any, path: str | Path = "<experiment>") -> Experiment:
    path = Path(path)
    where = str(path)
    if not isinstance(document, dict):
        raise PolicyError(f"{where}: an experiment must be a mapping, got {type(document).__name__}")
    _no_unknown(document, _TOP_KEYS, where)
    for key in ("name", "base_model", "variants"):
        if key not in document:
            raise PolicyError(f"{where}: missing required field {key!r}")
    root = path.parent if path.name != "<experiment>" else Path.cwd()
    variants: list[Variant] = []
    raw_variants = document["variants"]
    if not isinstance(raw_variants, list) or not raw_variants:
        raise PolicyError(f"{where}: 'variants' must be a non-empty list")
    for i, raw in enumerate(raw_variants, 1):
        variants.extend(_variant(raw, root, f"{where}: variant {i}"))
    names = [v.name for v in variants]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise PolicyError(f"{where}: variant names must be unique, repeated: {', '.join(duplicated)}")
    if BASELINE in names:
        raise PolicyError(f"{where}: the variant name {BASELINE!r} is reserved for the untrained base model")
    reference = document.get("reference", names[0])
    if reference not in names and not (reference == BASELINE and document.get("baseline")):
        raise PolicyError(f"{where}: reference {reference!r} is not a variant ({', '.join(names)})")
    seeds = document.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise PolicyError(f"{where}: 'seeds' must be an integer or a non-empty list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise PolicyError(f"{where}: 'seeds' repeats a seed: {seeds}")
    return Experiment(
        name=_str(document["name"], f"{where}: 'name'"),
        path=path,
        base_model=_model_ref(_str(document["base_model"], f"{where}: 'base_model'"), root),
        reference=reference,
        variants=variants,
        seeds=seeds,
        train=_train(document.get("train") or {}, where),
        eval=_eval(document.get("eval") or {}, where),
        baseline=bool(document.get("baseline", False)),
        description=str(document.get("description") or ""),
        bootstrap=_bootstrap(document.get("bootstrap") or {}, where),
        frontier=_mapping(document.get("frontier") or {}, f"{where}: 'frontier'"),
    )


def resolve_path(value: Any, root: Path, where: str) -> Path:
    text = _str(value, where)
    if text.startswith("pkg:"):
        return PACKAGE_ROOT / text[4:]
    path = Path(text).expanduser()
    return path if path.is_absolute() else (root / path).resolve()


def _model_ref(ref: str, root: Path) -> str:
    """A model ref that names an existing path relative to the YAML becomes absolute."""
    if ref.startswith(("./", "../", "pkg:")) or (root / ref).exists():
        return str(resolve_path(ref, root, "base_model"))
    return ref


def _variant(raw: Any, root: Path, where: str) -> list[Variant]:
    raw = _mapping(raw, where)
    _no_unknown(raw, {"name", "file", "files", "build"}, where)
    name = _str(raw.get("name"), f"{where}: 'name'")
    where = f"{where} ({name})"
    given = [k for k in ("file", "files", "build") if k in raw]
    if len(given) != 1:
        raise PolicyError(f"{where}: give exactly one of 'file', 'files' or 'build', got {given or 'none'}")
    if "file" in raw or "files" in raw:
        items = raw["files"] if "files" in raw else [raw["file"]]
        if not isinstance(items, list) or not items:
            raise PolicyError(f"{where}: 'files' must be a non-empty list of paths")
        files = tuple(resolve_path(f, root, f"{where}: file") for f in items)
        for f in files:
            if not f.is_file():
                raise PolicyError(f"{where}: file {f} does not exist")
        return [Variant(name, files=files)]
    build = _mapping(raw["build"], f"{where}: 'build'")
    if len(build) != 1 or next(iter(build)) not in BUILD_KINDS:
        raise PolicyError(f"{where}: 'build' must have exactly one of {', '.join(BUILD_KINDS)}, got {list(build)}")
    kind, config = next(iter(build.items()))
    config = dict(_mapping(config, f"{where}: build.{kind}"))
    _no_unknown(config, _BUILD_KEYS[kind], f"{where}: build.{kind}")
    inputs = _inputs(config, root, f"{where}: build.{kind}")
    if kind == "clean":
        if "policy" not in config:
            raise PolicyError(f"{where}: build.clean needs a 'policy' (preset name, file or inline mapping)")
        config["policy"] = _policy(config["policy"], root, f"{where}: build.clean.policy")
        return [Variant(name, build=DataBuild(kind, inputs, config), output="kept")]
    if kind == "merge":
        return [Variant(name, build=DataBuild(kind, inputs, config), output="merged")]
    from aligntax.shape.variants import parse_doses, variant_name

    try:
        doses = parse_doses(config.get("dose", [0.0, 0.25, 0.5, 1.0]))
    except (ValueError, TypeError) as exc:
        raise PolicyError(f"{where}: build.variants.dose: {exc}") from None
    config["dose"] = doses
    step = DataBuild(kind, inputs, config)
    return [Variant(f"{name}-{d:g}", build=step, output=variant_name(d), dose=d) for d in doses]


def _inputs(config: dict[str, Any], root: Path, where: str) -> tuple[Path, ...]:
    raw = config.pop("inputs", None)
    single = config.pop("input", None)
    if (raw is None) == (single is None):
        raise PolicyError(f"{where}: give exactly one of 'input' or 'inputs'")
    items = [single] if single is not None else raw
    if not isinstance(items, list) or not items:
        raise PolicyError(f"{where}: 'inputs' must be a non-empty list of paths")
    paths = tuple(resolve_path(p, root, f"{where}: input") for p in items)
    for p in paths:
        if not p.exists():
            raise PolicyError(f"{where}: input {p} does not exist")
    return paths


def _policy(value: Any, root: Path, where: str) -> Any:
    """Presets stay names, files become absolute paths, inline mappings are parsed now (errors early)."""
    from aligntax.shape.policy import parse_policy, preset_names

    if isinstance(value, dict):
        parse_policy(value, where)
        return value
    text = _str(value, where)
    if text in preset_names():
        return text
    path = resolve_path(text, root, where)
    if not path.is_file():
        raise PolicyError(f"{where}: {text!r} is neither a preset ({', '.join(preset_names())}) nor a file")
    return str(path)


def _train(raw: Any, where: str) -> dict[str, Any]:
    raw = _mapping(raw, f"{where}: 'train'")
    _no_unknown(raw, {"preset", "lora", "overrides"}, f"{where}: train")
    overrides = _mapping(raw.get("overrides") or {}, f"{where}: train.overrides")
    train = {"preset": _str(raw.get("preset", "cpu-mini"), f"{where}: train.preset"),
             "lora": bool(raw.get("lora", False)), "overrides": overrides}
    try:  # check the preset and overrides now, not after an hour of data building
        from aligntax.train.presets import resolve_recipe
    except ImportError:
        return train
    try:
        resolve_recipe(train["preset"], lora=train["lora"], **overrides)
    except (PolicyError, TypeError, ValueError) as exc:
        raise PolicyError(f"{where}: train: {exc}") from None
    return train


def _eval(raw: Any, where: str) -> dict[str, Any]:
    from aligntax.evals import TASKS
    from aligntax.evals.tasks import SUITES

    raw = dict(_mapping(raw, f"{where}: 'eval'"))
    _no_unknown(raw, _EVAL_KEYS, f"{where}: eval")
    suites = raw.setdefault("suites", list(SUITES))
    if not isinstance(suites, list) or any(s not in SUITES for s in suites):
        raise PolicyError(f"{where}: eval.suites must be a list drawn from {', '.join(SUITES)}, got {suites!r}")
    tasks = raw.get("tasks")
    if tasks is not None:
        if not isinstance(tasks, list) or not tasks:
            raise PolicyError(f"{where}: eval.tasks must be a non-empty list of task names")
        unknown = [t for t in tasks if t not in SUITES and not str(t).startswith("lm_eval:") and t not in TASKS]
        if unknown:
            raise PolicyError(f"{where}: unknown eval task(s) {', '.join(map(str, unknown))}; "
                              f"known: {', '.join(TASKS.names())}")
    for key in ("limit", "seed", "max_new_tokens", "batch_size", "num_fewshot", "threads"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise PolicyError(f"{where}: eval.{key} must be a non-negative integer, got {value!r}")
    limits = _mapping(raw.get("limits") or {}, f"{where}: eval.limits")
    for task, value in limits.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise PolicyError(f"{where}: eval.limits.{task} must be a positive integer, got {value!r}")
    raw["limits"] = limits
    raw.setdefault("seed", 1234)
    return raw


def _bootstrap(raw: Any, where: str) -> dict[str, Any]:
    raw = _mapping(raw, f"{where}: 'bootstrap'")
    _no_unknown(raw, {"iterations", "seed", "confidence"}, f"{where}: bootstrap")
    out = {"iterations": raw.get("iterations", 2000), "seed": raw.get("seed", 0), "confidence": raw.get("confidence", 0.95)}
    if not isinstance(out["iterations"], int) or out["iterations"] < 100:
        raise PolicyError(f"{where}: bootstrap.iterations must be an integer >= 100, got {out['iterations']!r}")
    if not isinstance(out["confidence"], (int, float)) or not 0.5 <= out["confidence"] < 1:
        raise PolicyError(f"{where}: bootstrap.confidence must be in [0.5, 1), got {out['confidence']!r}")
    return out


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where} must be a non-empty string, got {value!r}")
    return value


def _no_unknown(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(map(str, mapping)) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")

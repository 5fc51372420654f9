"""Cleaning policies: an ordered list of rules over detector tags and row columns.

A policy is a YAML file (or a shipped preset selected by name, see ``PRESETS``)::

    name: my-policy
    detectors:                      # detectors to run, with their options
      refusal: {}
      too_short: {min_chars: 20}
    dedup: {near: true, threshold: 0.8}   # optional corpus pass: duplicate / near_duplicate / repeated_query
    default: keep                   # what happens to a row no drop/keep rule matched
    rules:
      - name: short
        action: drop
        when: {any: [too_short]}
      - name: identity
        action: rewrite
        rewriter: identity_calibration
        options: {name: Aria, developer: Example Labs}
        when: {any: [identity_claim]}
      - name: benign-refusal
        action: drop
        turns: last_assistant
        when:
          any: [refusal]
          where: ["score_harmful_prompt < 0.5", "source in [a.jsonl, b.jsonl]"]

Rules run in order: the first matching ``drop``/``keep`` decides the row; a matching ``rewrite``
changes the row and evaluation continues with the rewritten row. Conditions never use ``eval``:
``where`` entries are ``<field> <op> <value>`` comparisons (see ``Comparison``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from aligntax.errors import PolicyError

ACTIONS = ("drop", "keep", "rewrite")
TURN_SCOPES = ("any", "assistant", "last_assistant", "first_assistant")
OPERATORS = (">=", "<=", "==", "!=", ">", "<", "not in", "in")
# Columns a comparison can use besides ``score_<tag>``; computed over the rule's turn scope.
COLUMNS = ("answer_chars", "answer_words", "prompt_chars", "n_turns", "n_assistant_turns", "source", "format",
           "identity", "id")
NUMERIC_COLUMNS = frozenset({"answer_chars", "answer_words", "prompt_chars", "n_turns", "n_assistant_turns"})
# Tags produced outside the detectors: by the dedup pass.
DEDUP_TAGS = ("duplicate", "near_duplicate", "repeated_query")
_COMPARISON = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<|not\s+in\b|in\b)\s*(.+?)\s*$")
_RULE_KEYS = {"name", "action", "when", "turns", "rewriter", "options", "description"}
_WHEN_KEYS = {"any", "all", "none", "where"}
_POLICY_KEYS = {"name", "description", "detectors", "dedup", "default", "rules"}


@dataclass(frozen=True)
class Comparison:
    """``field op value``: ``score_refusal >= 0.7``, ``answer_chars < 40``, ``identity in [openai, chatgpt]``."""

    field: str
    op: str
    value: Any

    def test(self, actual: Any) -> bool:
        op, value = self.op, self.value
        if op == "in":
            return actual in value
        if op == "not in":
            return actual not in value
        if op == "==":
            return actual == value
        if op == "!=":
            return actual != value
        if actual is None:
            return False
        return {">=": actual >= value, "<=": actual <= value, ">": actual > value, "<": actual < value}[op]

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value!r}"


@dataclass(frozen=True)
class Condition:
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    where: tuple[Comparison, ...] = ()

    def tags(self) -> set[str]:
        found = set(self.any) | set(self.all) | set(self.none)
        found.update(c.field[len("score_"):] for c in self.where if c.field.startswith("score_"))
        return found


@dataclass(frozen=True)
class Rule:
    number: int  # 1-based position in the policy, used in messages and manifests
    name: str
    action: str
    when: Condition
    turns: str = "any"
    rewriter: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.number}:{self.name}"


@dataclass
class Policy:
    name: str
    rules: list[Rule]
    detectors: dict[str, dict[str, Any]]
    dedup: dict[str, Any] | None = None
    default: str = "keep"
    description: str = ""
    origin: str = "<policy>"  # the file or preset it came from
    document: dict[str, Any] = field(default_factory=dict, repr=False)  # the validated YAML, for the manifest

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.document, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def referenced_tags(self) -> set[str]:
        return set().union(*(r.when.tags() for r in self.rules)) if self.rules else set()


def _presets_folder():
    return resources.files("aligntax") / "data" / "policies"


def preset_names() -> list[str]:
    folder = _presets_folder()
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_policy(ref: str | Path, *, validate_tags: bool = True) -> Policy:
    """A preset name (``poison-of-alignment``) or a path to a YAML file -> validated ``Policy``."""
    text, origin = _policy_text(ref)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{origin}: not valid YAML: {exc}") from None
    return parse_policy(document, origin, validate_tags=validate_tags)


def _policy_text(ref: str | Path) -> tuple[str, str]:
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise PolicyError(f"{path}: no such policy file (presets: {', '.join(preset_names())})")
        return path.read_text(encoding="utf-8"), str(path)
    preset = _presets_folder() / f"{ref}.yaml"
    if not preset.is_file():
        raise PolicyError(f"unknown policy {str(ref)!r}: not a file and not a preset "
                          f"(presets: {', '.join(preset_names())})")
    return preset.read_text(encoding="utf-8"), f"preset:{ref}"


def parse_policy(document: Any, origin: str = "<policy>", *, validate_tags: bool = True) -> Policy:
    if not isinstance(document, dict):
        raise PolicyError(f"{origin}: a policy must be a mapping with a 'rules' list, got {type(document).__name__}")
    _no_unknown(document, _POLICY_KEYS, origin)
    rules_doc = document.get("rules")
    if not isinstance(rules_doc, list) or not rules_doc:
        raise PolicyError(f"{origin}: field 'rules' must be a non-empty list of rules")
    detectors = _detectors(document.get("detectors", {}), origin)
    dedup = document.get("dedup")
    if dedup is not None and not isinstance(dedup, dict):
        raise PolicyError(f"{origin}: field 'dedup' must be a mapping of dedup options (or absent)")
    default = document.get("default", "keep")
    if default not in ("keep", "drop"):
        raise PolicyError(f"{origin}: field 'default' must be 'keep' or 'drop', got {default!r}")
    rules = [_rule(r, n, origin) for n, r in enumerate(rules_doc, start=1)]
    policy = Policy(str(document.get("name") or Path(origin).stem), rules, detectors, dedup, default,
                    str(document.get("description", "")), origin, document)
    if validate_tags:
        check_tags(policy)
    return policy


def _no_unknown(mapping: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(map(str, mapping)) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
                          f"{', '.join(sorted(allowed))}")


def _detectors(value: Any, origin: str) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):  # a plain list of names
        value = {name: {} for name in value}
    if not isinstance(value, dict):
        raise PolicyError(f"{origin}: field 'detectors' must map detector names to option mappings")
    out: dict[str, dict[str, Any]] = {}
    for name, options in value.items():
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise PolicyError(f"{origin}: field 'detectors.{name}' must be a mapping of options, got {options!r}")
        out[str(name)] = dict(options)
    return out


def _rule(doc: Any, number: int, origin: str) -> Rule:
    where = f"{origin}: rule {number}"
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: a rule must be a mapping, got {type(doc).__name__}")
    if doc.get("name"):
        where += f" ({doc['name']})"
    _no_unknown(doc, _RULE_KEYS, where)
    action = doc.get("action")
    if action not in ACTIONS:
        raise PolicyError(f"{where}: field 'action' must be one of {', '.join(ACTIONS)}, got {action!r}")
    turns = doc.get("turns", "any")
    if turns not in TURN_SCOPES:
        raise PolicyError(f"{where}: field 'turns' must be one of {', '.join(TURN_SCOPES)}, got {turns!r}")
    rewriter, options = doc.get("rewriter"), doc.get("options") or {}
    if not isinstance(options, dict):
        raise PolicyError(f"{where}: field 'options' must be a mapping, got {options!r}")
    if action == "rewrite":
        from aligntax.shape.rewrite import REWRITERS

        if not rewriter:
            raise PolicyError(f"{where}: field 'rewriter' is required for action 'rewrite' "
                              f"(available: {', '.join(REWRITERS.names())})")
        try:
            REWRITERS.get(rewriter)(**options)
        except KeyError as exc:
            raise PolicyError(f"{where}: field 'rewriter': {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"{where}: field 'options': {exc}") from None
    elif rewriter is not None:
        raise PolicyError(f"{where}: field 'rewriter' only applies to action 'rewrite'")
    when = _condition(doc.get("when", {}), where)
    name = str(doc.get("name") or f"rule{number}")
    return Rule(number, name, action, when, turns, rewriter, dict(options))


def _tag_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{where}: field 'when.{key}' must be a list of tag names, got {value!r}")
    return tuple(value)


def _condition(doc: Any, where: str) -> Condition:
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: field 'when' must be a mapping with any/all/none/where, got {doc!r}")
    _no_unknown(doc, _WHEN_KEYS, f"{where}: field 'when'")
    where_doc = doc.get("where", [])
    if isinstance(where_doc, (str, dict)):
        where_doc = [where_doc]
    if not isinstance(where_doc, list):
        raise PolicyError(f"{where}: field 'when.where' must be a list of comparisons, got {where_doc!r}")
    comparisons = tuple(parse_comparison(c, f"{where}: field 'when.where[{i}]'") for i, c in enumerate(where_doc))
    cond = Condition(*(_tag_list(doc.get(k, []), where, k) for k in ("any", "all", "none")), comparisons)
    if not (cond.any or cond.all or cond.none or cond.where):
        raise PolicyError(f"{where}: field 'when' is empty; a rule must say which rows it matches")
    return cond


def parse_comparison(spec: Any, where: str) -> Comparison:
    """``"score_refusal >= 0.7"`` or ``{field: score_refusal, op: ">=", value: 0.7}`` -> ``Comparison``."""
    if isinstance(spec, dict):
        _no_unknown(spec, {"field", "op", "value"}, where)
        name, op, value = spec.get("field"), spec.get("op"), spec.get("value")
        if not isinstance(name, str):
            raise PolicyError(f"{where}: 'field' must be a column name")
    elif isinstance(spec, str):
        m = _COMPARISON.match(spec)
        if not m:
            raise PolicyError(f"{where}: cannot parse {spec!r}; expected '<field> <op> <value>' with op one of "
                              f"{', '.join(OPERATORS)}")
        name, op = m.group(1), re.sub(r"\s+", " ", m.group(2))
        try:
            value = yaml.safe_load(m.group(3))  # a number, a string, or a [list]: data, never code
        except yaml.YAMLError:
            raise PolicyError(f"{where}: cannot read the value {m.group(3)!r}") from None
    else:
        raise PolicyError(f"{where}: a comparison is a string or a mapping, got {spec!r}")
    if op not in OPERATORS:
        raise PolicyError(f"{where}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    if not (name.startswith("score_") or name in COLUMNS):
        raise PolicyError(f"{where}: unknown field {name!r}; use score_<tag> or one of {', '.join(COLUMNS)}")
    numeric = name.startswith("score_") or name in NUMERIC_COLUMNS
    if op in ("in", "not in"):
        if not isinstance(value, list):
            raise PolicyError(f"{where}: '{op}' needs a [list] value, got {value!r}")
        value = tuple(value)
    elif op in (">=", "<=", ">", "<") and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise PolicyError(f"{where}: '{op}' needs a number, got {value!r}")
    elif numeric and op in ("==", "!=") and not isinstance(value, (int, float)):
        raise PolicyError(f"{where}: {name} is numeric; compare it with a number, got {value!r}")
    return Comparison(name, op, value)


def check_tags(policy: Policy) -> None:
    """Every tag a rule names must come from a configured detector or the dedup pass."""
    from aligntax.audit.annotate import declared_tags
    from aligntax.detect.base import DETECTORS
    from aligntax.detect.defaults import load_builtin_detectors

    load_builtin_detectors()
    available: list[str] = list(DEDUP_TAGS) if policy.dedup is not None else []
    classes = []
    for name in policy.detectors:
        if name not in DETECTORS and name.isidentifier():  # a built-in module not in the default imports
            try:
                importlib.import_module(f"aligntax.detect.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"aligntax.detect.{name}":
                    raise
        try:
            classes.append(DETECTORS.get(name))
        except KeyError as exc:
            raise PolicyError(f"{policy.origin}: field 'detectors': {exc.args[0]}") from None
    available.extend(declared_tags(classes))  # declared_tags only reads the class attributes
    for rule in policy.rules:
        for tag in sorted(rule.when.tags()):
            if tag not in available:
                raise PolicyError(f"{policy.origin}: rule {rule.number} ({rule.name}): field 'when' uses tag {tag!r}, "
                                  f"which no configured detector emits (configured tags: {', '.join(available)})")

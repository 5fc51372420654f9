"""``aligntax clean``: read -> detect -> decide -> write, by policy, with nothing lost.

Outputs (all staged in a temporary directory beside ``out`` and renamed into place at the end):

* ``kept.<ext>`` - kept rows in the input's own format and file type (normalised messages JSONL
  when the inputs differ in format or file type); rewritten rows carry their new text.
* ``kept.annotations.jsonl`` - one line per kept row that was rewritten: ``id``, ``source``,
  ``index``, ``sub`` and ``marks`` (``rewritten:<name>``), so the kept file keeps the input's columns.
* ``rejected.jsonl`` - every dropped row (malformed ones too) with ``reason`` and ``rule``.
* ``manifest.json`` - inputs and outputs with sha256, the policy and its hash, counts per rule,
  a sample of rewrites (before/after), timing.

Conservation (kept + rejected == read, by row identity) is checked before anything is committed;
a violation raises ``ConservationError`` and leaves ``out`` untouched.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from aligntax.audit.annotate import annotate
from aligntax.detect.base import Detection, Detector
from aligntax.errors import InputError, PolicyError
from aligntax.record import Conversation, Malformed
from aligntax.shape.dedup_pass import dedup_flags
from aligntax.shape.manifest import (MANIFEST_FILE, RowLedger, StagedDir, base_manifest, check_conservation,
                                     describe_files, write_json)
from aligntax.shape.policy import DEDUP_TAGS, Policy, load_policy
from aligntax.shape.rules import Decision, RuleEngine
from aligntax.util import batched

KEPT, REJECTED, ANNOTATIONS = "kept", "rejected.jsonl", "kept.annotations.jsonl"
BATCH_SIZE = 512
SAMPLE_TEXT_CHARS = 2000
Item = Conversation | Malformed


@dataclass
class OutputFormat:
    like: str | None  # format name for open_writer; None = normalised messages
    file_type: str

    @property
    def suffix(self) -> str:
        return self.file_type


@dataclass
class CleanResult:
    out_dir: Path
    manifest: dict[str, Any] = field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        return self.manifest["counts"]


def output_format(inputs: Sequence[str | Path], *, format: str | None = None) -> OutputFormat:
    """Write in the inputs' own format and file type when they all share one, else messages JSONL."""
    from aligntax.io import expand_paths, read_conversations

    found: set[tuple[str | None, str]] = set()
    for source in expand_paths(list(inputs)):
        fmt = format
        if fmt is None:
            sample = read_conversations([source.name], limit=64)
            fmt = next((c.format for c in sample if isinstance(c, Conversation)), None)
        kind = source.kind if source.kind in ("jsonl", "json", "parquet", "csv") else "jsonl"
        found.add((fmt, kind))
    if len(found) == 1:
        fmt, kind = found.pop()
        if fmt is not None:
            return OutputFormat(fmt, kind)
    return OutputFormat(None, "jsonl")


def reject_repeated_inputs(inputs: Sequence[str]) -> None:
    """Rows are identified by (source, index, sub): the same file given twice would make two rows one."""
    from aligntax.io import expand_paths

    seen: dict[str, str] = {}
    for source in expand_paths(list(inputs)):
        where = str(source.path.resolve()) if source.path is not None else source.name
        if where in seen:
            raise InputError(f"{source.name}: given more than once (also as {seen[where]}); "
                             "row identities (source, index, sub) would collide")
        seen[where] = source.name


def build_policy_detectors(policy: Policy) -> list[Detector]:
    from aligntax.detect.defaults import build_detectors

    if not policy.detectors:
        return []
    try:
        return build_detectors(list(policy.detectors), policy.detectors)
    except (TypeError, ValueError, KeyError) as exc:
        raise PolicyError(f"{policy.origin}: field 'detectors': {exc}") from None


class _Sinks:
    """The three outputs of one clean run, each with a ledger of the rows written to it."""

    def __init__(self, root: Path, fmt: OutputFormat, kept_name: str) -> None:
        from aligntax.io import open_rejected_writer, open_writer

        self.kept_path = root / f"{kept_name}.{fmt.suffix}"
        self.kept = open_writer(self.kept_path, like=fmt.like, file_type=fmt.file_type)
        self.rejected = open_rejected_writer(root / REJECTED)
        self.annotations_path = root / (ANNOTATIONS if kept_name == KEPT else f"{kept_name}.annotations.jsonl")
        self.annotations = open(self.annotations_path, "w", encoding="utf-8")
        self.kept_rows, self.rejected_rows = RowLedger(), RowLedger()

    def close(self) -> None:
        self.annotations.close()
        self.kept.close()
        self.rejected.close()

    def abort(self) -> None:
        self.annotations.close()
        self.kept.abort()
        self.rejected.abort()


def route(item: Item, decision: Decision | None, sinks: _Sinks) -> None:
    """Write one row to exactly one output."""
    if decision is None:  # malformed input row
        sinks.rejected.write(item)
        sinks.rejected_rows.add(item.key)
        return
    if decision.action == "keep":
        sinks.kept.write(decision.conversation)
        sinks.kept_rows.add(item.key)
        if decision.rewrites:
            line = {"id": item.id, "source": item.source, "index": item.index, "sub": item.sub,
                    "marks": decision.marks, "rules": [r.rule.label for r in decision.rewrites]}
            sinks.annotations.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    reason = decision.reason + (f" [after {', '.join(decision.marks)}]" if decision.rewrites else "")
    sinks.rejected.write(item, reason=reason, rule=decision.rule_label)  # the input row as it was
    sinks.rejected_rows.add(item.key)


class _RewriteSampler:
    def __init__(self, per_rewriter: int) -> None:
        self.per_rewriter = per_rewriter
        self.samples: list[dict[str, Any]] = []
        self.seen: Counter[str] = Counter()

    def add(self, decision: Decision) -> None:
        for record in decision.rewrites:
            self.seen[record.rewriter] += 1
            if self.seen[record.rewriter] > self.per_rewriter:
                continue
            for turn in record.turns:
                self.samples.append({
                    "rule": record.rule.label, "rewriter": record.rewriter, "id": record.before.id,
                    "source": record.before.source, "index": record.before.index, "sub": record.before.sub,
                    "turn": turn, "kept": decision.action == "keep",
                    "before": record.before.turns[turn].content[:SAMPLE_TEXT_CHARS],
                    "after": record.after.turns[turn].content[:SAMPLE_TEXT_CHARS],
                })


Decided = list[tuple[Item, "Decision | None"]]  # one batch of rows with their decisions (None: malformed)


@dataclass
class CleanJob:
    """What deciding rows needs, independent of where it runs (this process or a Ray cluster)."""

    inputs: list[str]
    policy: Policy
    format: str | None = None
    on_error: str = "quarantine"
    limit: int | None = None
    batch_size: int = BATCH_SIZE

    def read(self, progress: bool = False) -> Iterator[Item]:
        from aligntax.io import read_conversations

        return read_conversations(self.inputs, format=self.format, on_error=self.on_error, limit=self.limit,
                                  progress=progress)


def policy_rule_engine(policy: Policy, detectors: Sequence[Detector]) -> RuleEngine:
    """The rule engine; rewritten conversations are re-detected, keeping the corpus-level dedup hits."""

    def reannotate(conv: Conversation, before: Detection) -> Detection:
        fresh = annotate([conv], detectors)[0]
        fresh.hits.extend(h for h in before.hits if h.tag in DEDUP_TAGS)
        return fresh

    return RuleEngine(policy, reannotate)


def decide_batch(batch: Sequence[Item], detectors: Sequence[Detector], flags: dict, engine: RuleEngine) -> Decided:
    """Detect, add the dedup flags, and decide every row of one batch."""
    convs = [it for it in batch if isinstance(it, Conversation)]
    found = iter(annotate(convs, detectors))
    out: Decided = []
    for item in batch:
        if isinstance(item, Malformed):
            out.append((item, None))
            continue
        detection = next(found)
        detection.hits.extend(flags.get(item.key, ()))
        out.append((item, engine.decide(item, detection)))
    return out


class LocalCleanEngine:
    """Streams the inputs through this process (the default)."""

    name = "local"

    def dedup_flags(self, job: CleanJob) -> dict:
        return dedup_flags(job.read(), job.policy.dedup)

    def decided(self, job: CleanJob, flags: dict, progress: bool = False) -> Iterator[Decided]:
        detectors = build_policy_detectors(job.policy)
        engine = policy_rule_engine(job.policy, detectors)
        for batch in batched(job.read(progress), job.batch_size):
            yield decide_batch(batch, detectors, flags, engine)


class _ShardLedgers:
    """Read / kept / rejected ledgers per input source, so conservation is checked per shard too."""

    def __init__(self) -> None:
        self.read: dict[str, RowLedger] = {}
        self.kept: dict[str, RowLedger] = {}
        self.rejected: dict[str, RowLedger] = {}

    def add(self, item: Item, decision: Decision | None) -> None:
        self.read.setdefault(item.source, RowLedger()).add(item.key)
        sink = self.kept if decision is not None and decision.action == "keep" else self.rejected
        sink.setdefault(item.source, RowLedger()).add(item.key)

    def check(self) -> dict[str, dict[str, int]]:
        table = {}
        for source, read in self.read.items():
            kept, rejected = self.kept.get(source, RowLedger()), self.rejected.get(source, RowLedger())
            check_conservation(read, {f"{source} kept": kept, f"{source} rejected": rejected})
            table[source] = {"read": read.count, "kept": kept.count, "rejected": rejected.count}
        return table


def run_clean(inputs: Sequence[str | Path], policy: Policy | str | Path, out_dir: str | Path, *,
              format: str | None = None, on_error: str = "quarantine", limit: int | None = None,
              batch_size: int = BATCH_SIZE, progress: bool = False, sample_rewrites: int = 10,
              kept_name: str = KEPT, command: str = "clean", engine: Any = None) -> CleanResult:
    """Clean ``inputs`` by ``policy`` (a ``Policy``, a preset name or a YAML path) into ``out_dir``.

    ``engine`` decides the rows (``LocalCleanEngine`` by default; ``aligntax.engines`` has a Ray
    one); routing, writing and the conservation checks always happen here, in input order."""
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    inputs = [str(p) for p in inputs]
    reject_repeated_inputs(inputs)
    detectors = build_policy_detectors(policy)  # validates the policy's detectors before any work
    engine = engine or LocalCleanEngine()
    job = CleanJob(inputs, policy, format, on_error, limit, batch_size)
    started = time.perf_counter()
    flags = engine.dedup_flags(job) if policy.dedup is not None else {}
    dedup_seconds = time.perf_counter() - started

    fmt = output_format(inputs, format=format)
    read_rows = RowLedger()
    shards = _ShardLedgers()
    per_rule: Counter[str] = Counter()
    per_reason: Counter[str] = Counter()
    rewrites: Counter[str] = Counter()
    sampler = _RewriteSampler(sample_rewrites)
    with StagedDir(out_dir) as staged:
        sinks = _Sinks(staged.path, fmt, kept_name)
        try:
            for decided in engine.decided(job, flags, progress):
                for item, decision in decided:
                    read_rows.add(item.key)
                    shards.add(item, decision)
                    route(item, decision, sinks)
                    if decision is None:
                        per_rule["malformed"] += 1
                        per_reason[item.reason.split(":", 2)[1] if ":" in item.reason else item.reason] += 1
                        continue
                    per_rule[decision.rule_label] += 1
                    for record in decision.rewrites:
                        rewrites[f"{record.rule.label}:{record.rewriter}"] += 1
                    sampler.add(decision)
        except BaseException:
            sinks.abort()
            raise
        sinks.close()
        if read_rows.count == 0:
            raise InputError(f"no input rows in {', '.join(inputs)}")
        check_conservation(read_rows, {"kept": sinks.kept_rows, "rejected": sinks.rejected_rows})
        per_shard = shards.check()
        if sinks.kept.count != sinks.kept_rows.count or sinks.rejected.count != sinks.rejected_rows.count:
            from aligntax.errors import ConservationError

            raise ConservationError(f"conservation violated: writers report {sinks.kept.count} kept and "
                                    f"{sinks.rejected.count} rejected rows, the pipeline routed "
                                    f"{sinks.kept_rows.count} and {sinks.rejected_rows.count}")
        elapsed = time.perf_counter() - started
        manifest = base_manifest(command, inputs)
        manifest.update({
            "policy": {"name": policy.name, "origin": policy.origin, "sha256": policy.hash,
                       "document": policy.document},
            "detectors": [{"name": d.name, "version": d.version, "options": d.options} for d in detectors],
            "output_format": {"like": fmt.like or "messages", "file_type": fmt.file_type},
            "counts": {"read": read_rows.count, "kept": sinks.kept_rows.count,
                       "rejected": sinks.rejected_rows.count, "rewritten": sum(rewrites.values()),
                       "dedup_flagged": len(flags)},
            "per_shard": per_shard,
            "per_rule": _per_rule_table(policy, per_rule),
            "malformed_reasons": dict(per_reason),
            "rewrites": dict(rewrites),
            "rewrite_samples": sampler.samples,
            "outputs": describe_files([sinks.kept_path, staged.path / REJECTED, sinks.annotations_path], staged.path),
            "timing": {"seconds": round(elapsed, 3), "dedup_pass_seconds": round(dedup_seconds, 3),
                       "engine": getattr(engine, "name", type(engine).__name__),
                       "rows_per_s": round(read_rows.count / elapsed, 1) if elapsed else None},
            "conservation": "kept + rejected == read, checked by row identity (source, index, sub), "
                            "per input source and in total",
        })
        write_json(staged.path / MANIFEST_FILE, manifest)
        staged.commit()
    return CleanResult(Path(out_dir), manifest)


def _per_rule_table(policy: Policy, counts: Counter[str]) -> list[dict[str, Any]]:
    table = [{"rule": rule.label, "action": rule.action, "rows": counts.get(rule.label, 0)}
             for rule in policy.rules if rule.action != "rewrite"]
    table.append({"rule": "default", "action": policy.default, "rows": counts.get("default", 0)})
    table.append({"rule": "malformed", "action": "drop", "rows": counts.get("malformed", 0)})
    return table

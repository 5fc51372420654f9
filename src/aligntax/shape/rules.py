"""Apply a policy's ordered rules to one annotated conversation.

Turn scope (a rule's ``turns``) selects which *assistant* turns' hits count: ``any`` (every
assistant turn), ``last_assistant`` or ``first_assistant``. Hits on user/system turns (roleplay,
harmful_prompt) and conversation-level hits (duplicate, near_duplicate, repeated_query) always
count: they describe the context of every answer. ``score_<tag>`` is the highest in-scope score
of that tag (0 when it did not fire).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from aligntax.detect.base import Detection, TagHit
from aligntax.record import Conversation
from aligntax.shape.policy import Policy, Rule
from aligntax.shape.rewrite import REWRITERS, Rewriter

Reannotate = Callable[[Conversation, Detection], Detection]


@dataclass
class RewriteRecord:
    rule: Rule
    rewriter: str
    before: Conversation
    after: Conversation
    turns: list[int]


@dataclass
class Decision:
    action: str  # "keep" | "drop"
    rule: Rule | None  # None: the policy default decided
    reason: str
    conversation: Conversation  # after any rewrites
    rewrites: list[RewriteRecord] = field(default_factory=list)

    @property
    def rule_label(self) -> str:
        return self.rule.label if self.rule else "default"

    @property
    def marks(self) -> list[str]:
        return [f"rewritten:{r.rewriter}" for r in self.rewrites]


def scoped_turns(conv: Conversation, scope: str) -> list[int]:
    assistant = [i for i, t in enumerate(conv.turns) if t.role == "assistant"]
    if scope == "last_assistant":
        return assistant[-1:]
    if scope == "first_assistant":
        return assistant[:1]
    return assistant


def scoped_hits(conv: Conversation, detection: Detection, turns: list[int]) -> list[TagHit]:
    allowed = set(turns)
    out = []
    for hit in detection.hits:
        on_assistant = 0 <= hit.turn < len(conv.turns) and conv.turns[hit.turn].role == "assistant"
        if not on_assistant or hit.turn in allowed:
            out.append(hit)
    return out


def row_values(conv: Conversation, hits: list[TagHit], turns: list[int]) -> dict[str, Any]:
    """The columns comparisons can use, for this conversation and turn scope."""
    answers = [conv.turns[i].content for i in turns]
    prompt = conv.prompt_before(turns[-1]) if turns else conv.first_user()
    identity = next((h.value for h in hits if h.tag == "identity_claim" and h.value), None)
    values: dict[str, Any] = {
        "answer_chars": sum(len(a) for a in answers), "answer_words": sum(len(a.split()) for a in answers),
        "prompt_chars": len(prompt), "n_turns": len(conv.turns),
        "n_assistant_turns": sum(1 for t in conv.turns if t.role == "assistant"),
        "source": conv.source, "format": conv.format, "identity": identity, "id": conv.id,
    }
    for hit in hits:
        key = f"score_{hit.tag}"
        if hit.score > values.get(key, 0.0):
            values[key] = hit.score
    return values


def match(rule: Rule, conv: Conversation, detection: Detection) -> tuple[bool, list[int], str]:
    """Whether ``rule`` matches, the in-scope assistant turns, and a short reason naming what fired."""
    turns = scoped_turns(conv, rule.turns)
    hits = scoped_hits(conv, detection, turns)
    fired = {h.tag for h in hits}
    cond = rule.when
    if cond.any and not fired.intersection(cond.any):
        return False, turns, ""
    if cond.all and not fired.issuperset(cond.all):
        return False, turns, ""
    if cond.none and fired.intersection(cond.none):
        return False, turns, ""
    reasons = sorted(fired.intersection(cond.any)) + [t for t in cond.all if t not in cond.any]
    if cond.where:
        values = row_values(conv, hits, turns)
        for comparison in cond.where:
            actual = values.get(comparison.field, 0.0 if comparison.field.startswith("score_") else None)
            if not comparison.test(actual):
                return False, turns, ""
        reasons.extend(str(c) for c in cond.where)
    return True, turns, ", ".join(reasons) or "matched"


class RuleEngine:
    """Decides one conversation at a time; rewriters are built once per policy."""

    def __init__(self, policy: Policy, reannotate: Reannotate | None = None) -> None:
        self.policy = policy
        self.reannotate = reannotate
        self.rewriters: dict[int, Rewriter] = {
            rule.number: REWRITERS.get(rule.rewriter)(**rule.options)
            for rule in policy.rules if rule.action == "rewrite" and rule.rewriter
        }

    def decide(self, conv: Conversation, detection: Detection) -> Decision:
        rewrites: list[RewriteRecord] = []
        for rule in self.policy.rules:
            matched, turns, reason = match(rule, conv, detection)
            if not matched:
                continue
            if rule.action == "rewrite":
                rewriter = self.rewriters[rule.number]
                after = rewriter.rewrite(conv, detection, turns)
                if after is None or after.turns == conv.turns and after.system == conv.system:
                    continue
                changed = [i for i, (a, b) in enumerate(zip(conv.turns, after.turns)) if a.content != b.content]
                rewrites.append(RewriteRecord(rule, rewriter.name, conv, after, changed))
                if self.reannotate is not None:  # later rules see what the rewritten row contains
                    detection = self.reannotate(after, detection)
                conv = after
                continue
            return Decision(rule.action, rule, f"{rule.name}: {reason}", conv, rewrites)
        return Decision(self.policy.default, None, "default", conv, rewrites)

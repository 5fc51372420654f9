"""``identity_claim``: the assistant says who it is or who made it.

"I am ChatGPT, a large language model trained by OpenAI", "As an AI developed by Anthropic",
"I'm Vicuna, ...", "My name is Claude". Third-person mentions ("ChatGPT is a chatbot by
OpenAI") are not claims: every pattern is anchored on a first-person opener.

``TagHit.value`` is the most specific identity found, one of ``IDENTITIES``; the developer
named alongside it (if any) goes to the conversation feature ``identity_developer``.
"""

from __future__ import annotations

import re
from typing import ClassVar

from aligntax.detect.base import DETECTORS, Detection, Detector, TagHit
from aligntax.detect.keyword_gate import KeywordGate
from aligntax.record import Conversation

IDENTITIES = ("gpt-4", "chatgpt", "claude", "llama", "bard", "vicuna", "other", "openai", "anthropic", "meta", "google")
# Lower rank = more specific. Model names beat developer names; "other" is a named model we do not know.
_SPECIFICITY = {name: rank for rank, name in enumerate(IDENTITIES)}
_DEVELOPER_OF = {"gpt-4": "openai", "chatgpt": "openai", "claude": "anthropic", "llama": "meta", "bard": "google",
                 "vicuna": "lmsys"}

# Model names are case-sensitive on purpose: "I am a llama" / "I'm a bard" are role-play, not claims.
_MODEL_NAMES: dict[str, str] = {
    r"GPT-?4(?:o|-turbo)?|GPT 4": "gpt-4",
    r"Chat ?GPT|chatGPT|CHATGPT": "chatgpt",
    r"GPT-?3(?:\.5)?(?:-turbo)?|GPT": "openai",
    r"Claude": "claude",
    r"LLaMA|Llama|LLaMa|LLAMA|Llama ?2|Llama ?3": "llama",
    r"Bard|Gemini|PaLM|LaMDA": "bard",
    r"Vicuna": "vicuna",
    r"Open ?Assistant|Alpaca|Koala|Mistral|Qwen|Falcon|Dolly|StableLM|WizardLM|Orca|Pythia|ChatGLM": "other",
}
_DEVELOPERS: dict[str, str] = {
    r"OpenAI|Open AI": "openai",
    r"Anthropic": "anthropic",
    r"Meta(?: AI)?|Facebook(?: AI)?": "meta",
    r"Google(?: AI| DeepMind| Research)?|DeepMind": "google",
    r"LMSYS|Large Model Systems Organization": "lmsys",
    r"LAION|Stanford|Mistral AI|Alibaba|TII|Databricks|Stability AI|Microsoft": "other",
}



def _alternation(names: dict[str, str]) -> str:
    return "|".join(f"({pattern})" for pattern in names)


_MODEL = rf"(?<![\w-])(?:{_alternation(_MODEL_NAMES)})(?![\w-])"
_DEV = rf"(?<![\w-])(?:{_alternation(_DEVELOPERS)})\b"
_MODEL_FIND = re.compile(_MODEL)
_DEV_FIND = re.compile(_DEV)
_MODEL_VALUES = list(_MODEL_NAMES.values())
_DEV_VALUES = list(_DEVELOPERS.values())
_I_AM = r"(?i:\bI\s+am|\bI['’]m|\bmy\s+name\s+is|\bI\s+go\s+by|\bcall\s+me|\bthis\s+is)"
# Words allowed between "I am" and "created by": only descriptors of an AI, so that
# "I am sure that GPT was created by OpenAI" is not read as a claim.
_DESCRIPTOR = (r"(?i:an?|the|just|only|simply|merely|actually|AI|artificial|intelligence|large|language|model|"
               r"assistant|chat ?bot|bot|conversational|virtual|computer|program|open[- ]source|digital|helpful|"
               r"text-based|based|natural|processing|machine|learning|neural|network|system|trained|powerful|"
               r"advanced|research|version|of|named)")
_MADE = r"(?i:created|developed|trained|built|made|designed|programmed|produced|released|powered)"

_CLAIM = re.compile(
    # "I am ChatGPT", "My name is Claude" (not "I am Claude Monet")
    rf"{_I_AM}\s+(?:(?i:called|named)\s+)?{_MODEL}(?!\s+[A-Z][a-z])"
    # "I am an AI language model created by OpenAI", "As an AI developed by Anthropic"
    rf"|(?:{_I_AM}|(?i:\bas|\bI\s+was|\bI\s+have\s+been))\s+(?:{_DESCRIPTOR}[\s,]+){{0,8}}?{_MADE}\s+(?i:by|at)\s+"
    rf"(?:(?i:the\s+)?(?:team|researchers|engineers)\s+(?i:at|of)\s+)?{_DEV}"
    # "As ChatGPT, I ..."
    rf"|(?i:\bas)\s+{_MODEL}\s*,\s+(?i:an?\s+[^,.]{{0,60}},\s+)?I\b"
    # "OpenAI trained me", "my creators at Anthropic"
    rf"|{_DEV}\s+(?i:has\s+|have\s+)?{_MADE}\s+me\b"
    rf"|(?i:\bmy\s+(?:creators?|developers?|makers?|trainers?))\s*(?i:at|,|are|is|from)?\s*{_DEV}"
    # "I am Open Assistant, an AI assistant": a named model we do not have a value for
    rf"|{_I_AM}\s+([A-Z][\w-]{{1,30}}(?:\s[A-Z][\w-]{{1,30}})?)\s*,\s+(?i:an?\s+)(?:[\w-]+\s+){{0,3}}?"
    r"(?i:AI\b|language\s+model|assistant|chat ?bot)"
)
# Every claim names a model or developer, or (the "other" branch) calls itself an assistant/AI.
_GATE = KeywordGate([
    "gpt", "claude", "llama", "bard", "gemini", "palm", "lamda", "vicuna", "assistant", "alpaca", "koala",
    "mistral", "qwen", "falcon", "dolly", "stablelm", "wizardlm", "orca", "pythia", "chatglm", "openai", "open ai",
    "anthropic", "meta", "facebook", "google", "deepmind", "lmsys", "large model systems", "laion", "stanford",
    "alibaba", "tii", "databricks", "stability ai", "microsoft", "language model", "chatbot", "chat bot", " ai",
])
# Where a claim can start: _CLAIM is tried (re.match) only at these offsets, not at every position.
_OPENERS = KeywordGate([
    "i am", "i'm", "i’m", "my name", "i go by", "call me", "this is", "as", "i was", "i have been", "my creator",
    "my developer", "my maker", "my trainer", "openai", "open ai", "anthropic", "meta", "facebook", "google",
    "deepmind", "lmsys", "large model systems", "laion", "stanford", "mistral ai", "alibaba", "tii", "databricks",
    "stability ai", "microsoft",
])


def _claims(text: str) -> list[re.Match[str]]:
    if not _GATE.any(text):
        return []
    if not text.isascii() and len(text.lower()) != len(text):
        return list(_CLAIM.finditer(text))  # a few code points lower-case to two characters: the slow way
    found: list[re.Match[str]] = []
    next_free = 0
    for start in sorted(set(_OPENERS.starts(text))):
        if start >= next_free:
            m = _CLAIM.match(text, start)
            if m:
                found.append(m)
                next_free = m.end()
    return found


def _classify(match: re.Match[str]) -> tuple[str, str | None]:
    """The identity value and developer named by one claim match."""
    text = match.group(0)
    identity: str | None = None
    for m in _MODEL_FIND.finditer(text):
        found = _MODEL_VALUES[m.lastindex - 1]
        if identity is None or _SPECIFICITY[found] < _SPECIFICITY[identity]:
            identity = found
    dev_match = _DEV_FIND.search(text)
    developer = _DEV_VALUES[dev_match.lastindex - 1] if dev_match else None
    if identity is None:  # only a developer: the developer is the identity
        identity = developer if developer in _SPECIFICITY else "other"
    return identity, developer or _DEVELOPER_OF.get(identity)


@DETECTORS.register("identity_claim")
class IdentityClaimDetector(Detector):
    """Assistant self-identification; scans assistant turns only."""

    name: ClassVar[str] = "identity_claim"
    version: ClassVar[str] = "2"  # 2: openers are looked up in the shared normalised pass (no-break spaces fold)
    tags: ClassVar[tuple[str, ...]] = ("identity_claim",)

    def detect(self, conv: Conversation) -> Detection:
        out = Detection()
        best: tuple[int, str, str | None] | None = None
        for i, turn in enumerate(conv.turns):
            if turn.role != "assistant":
                continue
            spans, identity, developer = [], None, None
            for m in _claims(turn.content):
                found, dev = _classify(m)
                spans.append(m.span())
                if identity is None or _SPECIFICITY[found] < _SPECIFICITY[identity]:
                    identity = found
                developer = developer or dev
            if identity is None:
                continue
            start, end = spans[0]
            out.hits.append(TagHit("identity_claim", i, 0.95 if identity != "other" else 0.8, tuple(spans),
                                   turn.content[start:end], identity))
            if best is None or _SPECIFICITY[identity] < best[0]:
                best = (_SPECIFICITY[identity], identity, developer)
        if best is not None:
            out.features["identity"] = best[1]
            out.features["identity_developer"] = best[2]
        return out

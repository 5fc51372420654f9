"""``roleplay``: the user or system sets up a persona, a role-play or a jailbreak framing.

Tags the user/system turn that does the setting up ("pretend you are...", "act as...",
"you are DAN", "from now on you will...", "stay in character", "As a pirate captain, what
would you say..."). A system prompt held in ``Conversation.system`` is reported as turn -1.

``TagHit.value`` is ``"jailbreak"`` for DAN / developer-mode / AIM style framings and
``"persona"`` otherwise; the score reflects how unambiguous the cue is.
"""

from __future__ import annotations

import re
from typing import ClassVar

from aligntax.detect.base import DETECTORS, Detection, Detector, TagHit
from aligntax.detect.keyword_gate import AnchoredPattern, GatedAlternation, KeywordGate
from aligntax.detect.regex_prefilter import RegexPrefilter
from aligntax.detect.textscan import scan
from aligntax.record import Conversation

SYSTEM_TURN = -1  # TagHit.turn for a hit in Conversation.system

_JAILBREAK = re.compile(
    r"\b(?:DAN|STAN|DUDE|AIM)\b(?=[^\n]{0,80}\b(?i:stands?\s+for|mode|persona|character|anything\s+now|you\s+are|act|"
    r"pretend|unfiltered|Machiavelli))"
    r"|(?i:\bdo\s+anything\s+now\b|\bdeveloper\s+mode\b|\bjailbr(?:oken|eak)\b|\bunfiltered\s+and\s+amoral\b|"
    r"\b(?:you\s+are|you're)\s+(?:now\s+)?(?:DAN|in\s+developer\s+mode|free\s+of\s+all\s+restrictions)|"
    r"\bignore\s+(?:all\s+)?(?:your\s+|the\s+|previous\s+)+(?:instructions|guidelines|rules)|"
    r"\bwithout\s+any\s+(?:moral|ethical)\s+(?:or\s+ethical\s+)?(?:restrictions|guidelines)|"
    r"\bno\s+longer\s+bound\s+by\b)"
)

def _starts(words: str, pattern: str) -> AnchoredPattern:
    r"""A branch that begins ``\b(?:word|...)``: tried only where one of ``words`` occurs."""
    return AnchoredPattern(pattern, words=words.split())


# Branches of one alternation, in order, each with the words it cannot match without (lower case;
# checked on ASCII texts only, where ``(?i)`` is plain ASCII case folding, which ``str.lower`` matches
# exactly). Words in the patterns are joined by ``\s+``, so every check is a single word.
_STRONG = GatedAlternation([
    (_starts("pretend", r"(?i:\bpretend\s+(?:to\s+be|you(?:'re|\s+are)|that\s+you(?:'re|\s+are)|you\s+were)\b)"),
     ("pretend",)),
    (_starts("role let", r"(?i:\brole[- ]?play(?:ing)?\s+(?:as|with\s+me|a\s+scene|a\s+character|game)\b"
                         r"|\blet['’]?s\s+role[- ]?play\b)"), ("role",)),
    (_starts("stay break remain", r"(?i:\bstay\s+in\s+character\b|\bbreak(?:ing)?\s+character\b"
                                  r"|\bremain\s+in\s+character\b)"), ("character",)),
    (r"(?i:\bI\s+want\s+you\s+to\s+(?:act|pretend|play|roleplay|respond\s+as|be\s+(?:my|a|an|the))\b)", ("want",)),
    (_starts("from", r"(?i:\bfrom\s+now\s+on,?\s+you\s+(?:are|will|shall|must|'re|should)\b)"),
     lambda text, low: "from" in low and "now" in low),
    (_starts("take play assume adopt", r"(?i:\b(?:take\s+on|play|assume|adopt)\s+the\s+(?:role|persona|identity|character)"
                                       r"\s+of\b|\b(?:take|play)\s+the\s+role\s+of\b)"),
     ("role", "persona", "identity", "character")),
    (r"(?i:\bin\s+the\s+(?:voice|persona|role)\s+of\b)", ("voice", "persona", "role")),
    (_starts("your", r"(?i:\byour\s+(?:role|persona|character)\s+(?:is|will\s+be)\b)"),
     ("role", "persona", "character")),
    (_starts("respond answer reply speak talk write", r"(?i:\b(?:respond|answer|reply|speak|talk|write)\s+(?:only\s+)?"
                                                      r"(?:as\s+if\s+you\s+were|in\s+character\s+as)\b)"),
     ("were", "character")),
])

# "act as" only counts as an instruction: at a sentence start or after "you will/please/want you to".
_ACT_AS = re.compile(
    r"(?i:(?:^|[.!?:]\s+|\n\s*|\byou\s+(?:will|should|must|to|can|are\s+to)\s+|\bplease\s+|\bnow\s+)"
    r"(?:act|behave|speak|respond|answer)\s+(?:as|like)\s+(?:(?:an?|the|my|if)\b|[A-Z]))"
)

_NOT_A_ROLE = r"(?!result\b|matter\b|rule\b|whole\b|consequence\b|reminder\b|side\s+note\b|example\b|general\b|first\b|"
_NOT_A_ROLE += r"final\b|bonus\b|follow\b|side\b|note\b|aside\b|reference\b|comparison\b)"
_MEDIUM = GatedAlternation([
    (_starts("imagine assume suppose", r"(?i:\b(?:imagine|assume|suppose)\s+(?:that\s+)?(?:you(?:'re|\s+are)|yourself\s+as"
                                       r"|you\s+were|being)\s+(?:an?|the|[A-Z]))"), ("imagine", "assume", "suppose")),
    (_starts("if", r"(?i:\bif\s+you\s+were\s+(?:an?|the)\s+[^.?!\n]{1,60}?,\s+(?:how|what|why|which|would|describe|write)\b)"),
     ("were",)),
    (_starts("introduce", r"(?i:\bintroduce\s+yourself\s+as\s+(?:an?|the)\b)"), ("introduce",)),
    (AnchoredPattern(
        rf"(?i:(?:^|\n)\s*as\s+(?:an?|the)\s+{_NOT_A_ROLE}[\w' -]{{2,80}},\s+(?:[\w']+\s+){{0,2}}?"
        r"(?:describe|explain|write|tell|how|what|why|would|can|could|give|share|discuss|provide|create|compose|"
        r"talk|convince|persuade|outline|present|respond|assess|evaluate|advise|suggest|offer|recommend|draft|plan|"
        r"propose|analy[sz]e|list|compose)\b)", line_start=True), ("as",)),
    (_starts("from", r"(?i:\bfrom\s+the\s+(?:perspective|point\s+of\s+view)\s+of\s+(?:an?|the)\s)"),
     ("perspective", "point")),
    # "You are a pirate captain..." at the start of the message, but not "You are a helpful assistant".
    (AnchoredPattern(
        r"(?:^|\n)\s*(?i:you\s+are|you're)\s+(?:(?i:an?|the|now)\s+)?"
        r"(?![^.\n]{0,60}(?i:\bassistant\b|\bAI\b|language\s+model|chat ?bot|\bhelpful\b|\bharmless\b))"
        r"(?:(?i:an?|the)\s+[\w' -]{2,60}?(?=[,.]|\s+(?i:who|from|in|on|at|with|sailing|working|living|named|tasked|and)\b)"
        r"|[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*(?=[,.]|\s+from\b))", line_start=True), ("you",)),
])

# Every pattern above needs one of these words (lower case); most prompts contain none.
_GATE = KeywordGate([
    "dan", "stan", "dude", "aim", "anything now", "developer mode", "jailbr", "unfiltered", "ignore", "without any",
    "no longer bound", "pretend", "role", "character", "i want you", "from now on", "persona", "identity",
    "voice of", "as if you were", "act as", "act like", "behave", "speak", "respond", "answer", "imagine", "assume",
    "suppose", "if you were", "introduce yourself", "as a", "as an", "as the", "you are", "you're", "perspective",
    "point of view",
])

# Necessary conditions of the two single-regex patterns (see the branch conditions above).
_JAILBREAK_WORDS = ("anything", "developer", "jailbr", "unfiltered", "free", "ignore", "without", "bound")
_ACT_AS_CUE = re.compile(r"(?:act|behave|speak|respond|answer)\s+(?:as|like)\s")


def _may_jailbreak(text: str, low: str) -> bool:
    return ("DAN" in text or "STAN" in text or "DUDE" in text or "AIM" in text  # case-sensitive branch
            or any(w in low for w in _JAILBREAK_WORDS) or ("dan" in low and "you" in low))


def _may_act_as(text: str, low: str) -> bool:
    return _ACT_AS_CUE.search(low) is not None


_PATTERNS = ((GatedAlternation([(_JAILBREAK, _may_jailbreak)]), 0.95, "jailbreak"), (_STRONG, 0.9, "persona"),
             (GatedAlternation([(_ACT_AS, _may_act_as)]), 0.85, "persona"), (_MEDIUM, 0.7, "persona"))
# Half of real role-play prompts ("You are a pirate captain...") pass every group's word conditions but can match
# only one group: one Hyperscan pass says which patterns could match (-60% of this detector's regex time there).
_PREFILTER = RegexPrefilter([p for group, _, _ in _PATTERNS for p in group.patterns])


@DETECTORS.register("roleplay")
class RoleplayDetector(Detector):
    """Persona / role-play / jailbreak set-up in user and system turns."""

    name: ClassVar[str] = "roleplay"
    version: ClassVar[str] = "1"
    tags: ClassVar[tuple[str, ...]] = ("roleplay",)

    def detect(self, conv: Conversation) -> Detection:
        out = Detection()
        if conv.system:
            self._scan(conv.system, SYSTEM_TURN, out)
        for i, turn in enumerate(conv.turns):
            if turn.role in ("user", "system"):
                self._scan(turn.content, i, out)
        return out

    @staticmethod
    def _scan(text: str, turn: int, out: Detection) -> None:
        if not _GATE.any(text):
            return
        prefilter = text.isascii()
        possible = _PREFILTER.possible(text) if prefilter else None
        if possible is not None and not possible:
            return
        low = scan(text).low  # the gate's pass lowered it already (== str.lower on ASCII, the only case conditions see)
        for pattern, score, kind in _PATTERNS:
            spans = pattern.spans(text, low, prefilter, possible)
            if spans:
                start, end = spans[0]
                out.hits.append(TagHit("roleplay", turn, score, tuple(spans), text[start:end].strip(), kind))
                return  # the strongest cue speaks for the turn

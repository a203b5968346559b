"""The rule baseline: sentence role and salience from surface cues, no model at all.

It is what the student must beat in every evaluation, and it follows ../shared/LABELS.md's cue
lists. Pure Python (re only), so the quality benchmark can run it anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Order matters: a task checkbox beats everything, a question mark beats decision cues, and
# decisions are checked before actions because "we agreed to ship X" is a decision.
_TASK = re.compile(r"^\s*(?:[-*+]\s+)?\[[ xX/>-]?\]\s+|\b(?:TODO|FIXME|TBD)\b|^\s*AI:", re.I)
_QUESTION_CUES = re.compile(
    r"\b(?:unclear|unknown whether|not sure|unsure|i wonder|wonder(?:ing)? (?:if|whether)|"
    r"still (?:open|unresolved|undecided|to be decided)|open question|remains to be seen|"
    r"needs? (?:input|an answer|clarification)|tbd whether|to be determined|"
    r"no idea (?:if|whether|how)|"
    r"question is whether|(?:don't|do not) know (?:if|whether|how|why|what))\b",
    re.I,
)
_DECISION_CUES = re.compile(
    r"\b(?:decided|decision(?: is| was)?|agreed|we'?ll go with|going with|settled on|"
    r"sticking with|stick with|confirmed|approved|chose|chosen|opted (?:for|to)|"
    r"deferred (?:to|until)|from now on|going forward|is out\b|are out\b|"
    r"we(?:'re| are) (?:not )?going to (?:use|ship|keep|drop|move|switch)|"
    r"we(?:'ll| will) (?:not )?(?:ship|use|keep|drop|move|switch|go)\b|"
    r"i(?:'ll| will) (?:stop|start|no longer|always|never)|"
    r"resolved to|final answer|the plan is)\b",
    re.I,
)
_ACTION_CUES = re.compile(
    r"\b(?:needs? to|has to|have to|must|should (?:send|write|draft|book|call|email|check|"
    r"review|update|ask|follow up|schedule|fix|prepare)|to do\b|action item|follow up|"
    r"follow-up with|assigned to|owner:|due\b|by (?:mon|tues|wednes|thurs|fri|satur|sun)day|"
    r"by (?:tomorrow|tonight|eod|end of (?:day|week|month)|next week)|by the \d)",
    re.I,
)
# "Dana to send", "Omar will benchmark ... by Tuesday": a capitalised name then to/will + verb.
_OWNER_TO = re.compile(r"^(?:[A-Z][\w'-]+(?:\s+(?:and|&)\s+[A-Z][\w'-]+)?)\s+(?:to|will)\s+[a-z]+")
_WILL_BY = re.compile(r"\bwill\b.*\bby\b", re.I)
_CONTEXT_CUES = re.compile(
    r"\b(?:attended|we met|met (?:in|at|with)|joined|was there|were there|dialed in|"
    r"the call|the meeting (?:ran|started|ended|was)|ran (?:long|late|over)|this morning|"
    r"today i|yesterday|last night|i picked (?:this|it) up|(?:found|came across) (?:this|it)\b|"
    r"recommended (?:by|to me)|i(?:'m| am) reading|i read|i listened|i watched|episode|chapter \d|"
    r"slides|agenda|minutes|notes from|recording|weather|coffee|lunch|tired|mood)\b",
    re.I,
)
_QUESTION_START = re.compile(
    r"^(?:who|what|when|where|why|how|which|whether|should we|shall we|do we|does|did|can we|"
    r"could we|is there|are there|will we|would it)\b",
    re.I,
)
# Common imperative openers of note-style tasks (LABELS.md: "Email…", "Book…", "Ping…").
IMPERATIVE_VERBS: frozenset[str] = frozenset(
    """
    add ask book buy call cancel check clean confirm contact create draft email e-mail file fill
    find finish fix follow get invite look make move order pay phone ping plan post prepare print
    read remind renew reply reschedule research review schedule send set share sign submit test
    text update upload write circulate collect compile document organise organize reach reserve
    investigate draft migrate rewrite refactor benchmark deploy merge archive backup back
    """.split()
)

ROLE_ORDER = ("claim", "question", "decision", "action", "context")


def _strip(text: str) -> str:
    return re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", text).strip()


def rule_role(text: str) -> str:
    """One of ROLES for a sentence, from cue words alone (LABELS.md's typical cues)."""
    raw = text.strip()
    if _TASK.search(raw):
        return "action"
    body = _strip(raw)
    if not body:
        return "context"
    if body.rstrip("\"')]*_ ").endswith("?") or _QUESTION_CUES.search(body):
        return "question"
    if _DECISION_CUES.search(body):
        return "decision"
    first = re.match(r"[A-Za-z'-]+", body)
    if first and first.group(0).lower() in IMPERATIVE_VERBS:
        return "action"
    if _OWNER_TO.match(body) or _WILL_BY.search(body) or _ACTION_CUES.search(body):
        return "action"
    if _QUESTION_START.match(body):
        return "question"
    if _CONTEXT_CUES.search(body):
        return "context"
    return "claim"


def rule_salience(sentences: Sequence[str]) -> list[float]:
    """Salience in [0, 1] per sentence: lead bias, length, and a bonus for numbers/cues.

    A standard extractive baseline: the first sentences of a document and longer, content-heavy
    sentences matter more; very short ones (acknowledgements, fragments) matter least.
    """
    n = len(sentences)
    if n == 0:
        return []
    scores: list[float] = []
    for i, s in enumerate(sentences):
        words = len(s.split())
        lead = 1.0 - i / max(1, n)  # 1.0 at the top, towards 0 at the end
        length = min(words, 25) / 25.0
        bonus = 0.0
        if re.search(r"\d", s):
            bonus += 0.1
        if re.search(
            r"\b(?:we (?:propose|show|find|present|introduce)|results?|conclude|key|main|"
            r"important|decided|agreed)\b",
            s,
            re.I,
        ):
            bonus += 0.2
        if words < 4:
            length *= 0.3
        scores.append(0.45 * lead + 0.4 * length + bonus)
    hi, lo = max(scores), min(scores)
    span = hi - lo
    return [((x - lo) / span) if span > 0 else 0.5 for x in scores]

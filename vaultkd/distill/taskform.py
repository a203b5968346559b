"""Whether a sentence can take the role the model gives it, by its form.

LABELS.md defines an action as "a specific task someone owes". The student reads much general
advice and many plain statements as actions ("Different is better." 0.93, "Being able to listen
well is a superpower." 0.87, "You just do it." 0.97 in a clipping of life advice), and every
new action becomes a `- [ ]` line that the Tasks plugin and task searches pick up. So before a
sentence is given the role `action`, this checks its form: a statement, its subject first and
no word of obligation, intention or time ("will", "needs to", "should", "by Friday", "X to do
Y", "TODO"), owes nothing to anyone. Nor does a rule of conduct ("Don't be the best.", "Never
miss twice."), and "should", "must" or "needs to" after a generic subject ("A card should ask
one thing.") is a requirement, not a task. Imperatives ("Book the venue."), fragments ("Design
spike — Jonas, two weeks."), questions that ask someone to act and anything this cannot parse
keep the model's reading, so the check can only make the task list shorter.

Nor does an instruction to whoever reads it (`is_instruction`): documentation and how-to
notes are written to "you" ("If you want it in all your searches, add it to your Global
Query."), in steps on a screen ("Click Create New.", "Press Esc to close the dialog."), with
a purpose first ("To create a tag, enter a hashtag symbol.") or as change-log lines
("feat(views): create note button in tree view"); nor a change recorded under a heading of
changes (`is_change`: "## 8.x releases", "Add support for cancelled dates."). With them the
new tasks of the Tasks plugin's docs went from 593 to 439 and Dendron's from 2,237 to 1,664;
no action of the seed set has these forms without a cue or an owner, which keep the task.
A regret ("I should have started in January.") and a doubt ("I don't think this will fix
it.") owe nothing either. And a sentence read as a decision under a heading of options
("## Options") is none unless it says a choice was made (`is_option`).

Likewise a sentence read as a question needs a question mark or a word of doubt: list items
("server side features") are no open questions (`is_question_form`). A sentence whose role is
ruled out takes its next most likely role where the model is sure enough of it to list it,
else `context` (`sentence_role`). Pure functions, `re` only; measured in README "Quality".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from vaultkd.roles import ROLES

# Words of obligation, intention and time that make a statement a task ("Tom will set up the
# page by 20 February.", "I need to send Ravi the table.", "We should email the officer.").
# "before" only with something after it ("before the launch"): at the end of a clause it
# looks back ("something you've never bought before.", "two days slower than before").
_CUES = re.compile(
    r"\b(?:will|shall|won't|had better|(?:i|we|they|he|she) (?:\w+ )?needs?|"
    r"going to|gonna|let's|let us|remember to|don't forget|do not forget|make sure|be sure to|"
    r"todo|fixme|tbd|asap|action item|follow[- ]up|assigned to|owner|due(?! to)|deadline|"
    r"tomorrow|tonight|this (?:week|weekend|month|morning|afternoon|evening)|"
    r"next (?:week|month|time|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"by (?:mon|tues|wednes|thurs|fri|satur|sun)day|on (?:mon|tues|wednes|thurs|fri|satur|sun)day|"
    r"by (?:the )?(?:end|eod|eow|noon|\d)|before(?!\s*(?:[.,;:!?)]|$))|until (?:the )?\d)\b"
    r"|'ll\b|’ll\b",
    re.I,
)
# Obligation: a task when someone owes it ("Dee needs to confirm the booking.", "We should
# email the officer."), not when it is a general requirement ("A card should ask one thing.",
# "The page must make clear what is included.", "You should always back up.").
_MODAL = re.compile(r"\b(?:must|should|ought to|needs? to|needed to|has to|have to)\b", re.I)
_GENERIC = frozenset("a an the every each all any no you your one".split())
# An owner first: "Dana to send …", "Ana: send …", "Tomorrow: prep …" (case-sensitive: the
# owner is capitalised, the task is not).
_OWNER = re.compile(r"^[A-Z][\w.'-]*(?:\s+(?:and|&)\s+[A-Z][\w.'-]*)?(?:\s+to\s+|:\s*)[a-z]")
# Words that open a statement's subject: pronouns, determiners and quantifiers. None of them
# can open an imperative ("The …", "It's …", "Everyone …"), so a sentence that starts with one
# and has no cue above states something.
_SUBJECT = frozenset(
    """
    i you we he she it they this that these those there here one everyone everybody nobody
    someone somebody anyone anybody everything nothing something anything people
    the a an my your our his her its their some most many all each every no any both few
    several much more less such another other neither either
    i'm i've i'd you're you've you'd we're we've we'd he's she's it's they're they've
    that's there's here's what's
    """.split()
)
# Finite forms that follow a one-word subject ("Experience is overrated.", "Art is …").
_FINITE = frozenset(
    "is are was were has have had does did isn't aren't wasn't weren't doesn't can can't "
    "cannot could may might makes means gives takes begins comes".split()
)
# A modal in the perfect speaks of the past: "I should have started the hiring plan in
# January." is a regret, and "We could have shipped in May." a claim; neither owes anything.
# The participle is required: "We should have a retro." is a task.
_PERFECT = re.compile(
    r"\b(?:should|could|would|might|must|ought to)(?: not|n't)? have "
    r"(?:been|done|gone|had|made|said|seen|taken|known|got|gotten|begun|written|\w+ed)\b",
    re.I,
)
# A belief or a doubt about what will happen owes nothing, even with "will" in it: "I don't
# think more runbooks alone will fix this.", "Not sure our PM will welcome another meeting."
# (all 17 such lines of the seed set are questions).
_DOUBT = re.compile(
    r"^\W*(?:(?:i|we) (?:don't|do not|didn't|did not) (?:think|believe|expect)\b|i doubt\b|"
    r"(?:(?:i'm|i am|we're|we are) )?not (?:sure|convinced|certain)\b|i wonder\b|"
    r"(?:i'm|i am) (?:unsure|skeptical|sceptical)\b)",
    re.I,
)
_BE = re.compile(r"\b(?:is|are|was|were|isn't|aren't|wasn't|weren't)\b", re.I)
# Openers skipped before the subject: connectives and adverbs ("Then", "Perhaps", "Even better,").
_LEAD = frozenset(
    """
    and but so or then also perhaps maybe probably just still now yet thus hence indeed
    besides finally first second third next instead otherwise sometimes often usually
    really honestly basically actually
    """.split()
)
# A leading subordinate clause is skipped up to its comma ("If you mess up, fess up.").
_SUBORDINATE = frozenset(
    "if when while once because as since although though whenever unless after before "
    "until wherever whether to".split()
)
# Rules of conduct: "Don't be the best.", "Never miss twice.", "Always carry a copy.", "Be
# kind." A task someone owes is a thing to do; these say how to be, for good (in the seed set
# every such line is general advice, a claim; one that names a time, "Be at the station by
# 8.", has a cue above and stays a task).
_MAXIM = re.compile(r"^(?:don'?t|do not|never|always|be)\b", re.I)  # apostrophes normalised
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_ITEM_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def _words(text: str) -> list[str]:
    return [w.replace("’", "'").lower() for w in _WORD.findall(text)]


def _main_clause(text: str) -> str:
    """The text from its main clause on: a leading list marker, connectives ("Then", "Even
    better,") and a leading subordinate clause up to its first comma removed."""
    body = _ITEM_MARKER.sub("", text).strip()
    after_clause = False
    for _ in range(6):
        words = _words(body[:40])
        if not words:
            break
        first = words[0]
        # After a subordinate clause, "and …," / "or …," continue it ("If you look for it,
        # and you finally find it, when you're done, don't put it back.").
        continues = after_clause and first in ("and", "or")
        if (first in _SUBORDINATE or first == "even" or continues) and "," in body:
            body = body.split(",", 1)[1].strip()
            after_clause = first != "even"
        elif first in _LEAD:
            body = re.sub(r"^\W*[A-Za-z'’-]+\s*,?\s*", "", body, count=1)
            after_clause = False
        else:
            break
    return body


# A change-log line in the Conventional Commits form, with its scope or its pull request
# ("feat(views): …", "enhance: … (#1811) @nickolay"): a change made, not one owed. Lower case
# and a scope or a reference, so that a to-do written "Fix: the build" stays one.
_CHANGELOG = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:feat|fix|enhance|enhancement|chore|docs|refactor|perf|tests?|build|ci|"
    r"style|revert)(?:\([^)]*\)!?:\s|!?:\s.*(?:\(#\d+\)|\s@[\w-]+))"
)
# The verbs of a step on a screen or a keyboard, which no errand starts with.
_UI = frozenset("click double-click right-click tap press hit scroll drag hover".split())
_MAYBE_INSTRUCTION = re.compile(
    r"\b(?:you|your|yours|yourself|yourselves|to|" + "|".join(sorted(_UI)) + r")\b", re.I
)
# The generic reader ("thank-you" and "you-know-what" are not).
_YOU = re.compile(r"(?<![\w-])you(?:r|rs|rself|rselves)?(?![\w-])", re.I)
# Someone named as the one asked: "Priyanka, send me your laptop order." or "…, Priyanka."
_VOCATIVE = re.compile(r"^[A-Z][a-z]+,\s|,\s*[A-Z][a-z]+[.!]?$")


def _owed(text: str, clause: str) -> bool:
    """A word of obligation, intention or time, or an owner first (in the text or in its main
    `clause`): a task, whatever its form."""
    return bool(
        _CUES.search(text) or _OWNER.match(text.strip())
        or _CUES.search(clause) or _OWNER.match(clause)
    )


def is_instruction(text: str) -> bool:
    """True for a sentence written to whoever reads it, not a task someone owes: it speaks
    to "you" (and to no one by name), is a step on a screen ("Click …", "Press …"), puts the
    purpose first ("To create a tag, enter …"), or is a change-log line ("fix(views): …").
    A word of obligation, intention or time or an owner keeps it a task; False keeps the
    model's reading."""
    text = text.replace("’", "'")
    if _CHANGELOG.match(text):
        return True
    # Most sentences have none of the forms: a word search says so before any parsing.
    if not _MAYBE_INSTRUCTION.search(text):
        return False
    clause = _main_clause(text)
    if _owed(text, clause):
        return False
    words = _words(clause)
    if not words:
        return False
    if words[0] in _UI:
        return True
    lead = _words(_ITEM_MARKER.sub("", text)[:40])
    # "to" and a verb, not a place or a person ("To the bank, then home.")
    if lead[:1] == ["to"] and len(lead) > 1 and lead[1] not in _SUBJECT and clause != text.strip():
        return True  # "To turn it on, add `show group count` to your query."
    first = text.strip().split(None, 1)[0].rstrip(",").lower() if text.strip() else ""
    named = bool(_VOCATIVE.search(text.strip())) and first not in _LEAD | _SUBORDINATE
    return bool(_YOU.search(text)) and not named


def is_statement(text: str) -> bool:
    """True for a sentence that, by its form, owes nothing: nothing in it speaks of
    obligation, intention or time, and its main clause states something (it opens with a
    subject: a pronoun or determiner, a gerund or infinitive before a form of "be", or one
    word before a finite verb) or is a rule of conduct ("Don't …", "Never …", "Always …",
    "Be …"). False keeps the model's reading."""
    text = text.replace("’", "'")  # typographic apostrophes: "don’t forget to …" is a cue
    if _DOUBT.match(text):
        return True
    clause = _main_clause(text)
    if _owed(text, clause):
        return False
    words = _words(clause)
    if not words:
        return False
    first = words[0]
    if _PERFECT.search(clause):
        return True
    if _MODAL.search(text) and first not in _GENERIC:
        return False
    if _MAXIM.match(clause):
        return True
    if first in _SUBJECT:
        return True
    head = clause.split(",", 1)[0]
    if first.endswith("ing") and len(first) > 4 and _BE.search(head):
        return True  # "Being able to listen well is a superpower."
    if first == "to" and _BE.search(head):
        return True  # "To make mistakes is human."
    return len(words) > 1 and words[1] in _FINITE  # "Experience is overrated."


# What a question without a question mark still says: that something is not known or not
# settled ("Unclear whether the bonus is taxed.", "Possibly the SSD is fine.", "Midterm
# format still not announced.", "How the certificates are renewed."). Every question of the
# seed set has a question mark or one of these words.
_QUESTION_WORDS = re.compile(
    r"\?|\b(?:whether|if|unclear|unknown|known|know|knows|sure|unsure|uncertain|wonder|"
    r"wondering|open|undecided|unresolved|undetermined|depends?|possibly|probably|maybe|"
    r"perhaps|guess|asked|ask|asks|how|what|why|who|whom|whose|which|when|where|torn|clear|"
    r"air|input|sign-off|still|yet|tell|never|missing|question|tbd|tbc|idea|doubt|curious)\b",
    re.I,
)


def is_question_form(text: str) -> bool:
    """Whether a sentence can be an open question by its form: a question mark, or a word
    that says something is not known or not settled. "server side features" or "Cost per
    use" (list items the student reads as questions) have neither."""
    return bool(_QUESTION_WORDS.search(text.replace("’", "'")))


# A section that lists what could be chosen ("## Options", "### Alternatives considered"):
# what it holds has not been chosen (LABELS.md's decision: "a choice that has been made").
_OPTIONS_HEADING = re.compile(
    r"\b(?:options?|alternatives?|proposals?|candidates?|choices|ideas|considered|pros|cons|"
    r"possibilities|approaches|scenarios)\b",
    re.I,
)
# ... unless the sentence says the choice was made ("We decided against option 3.").
_CHOSEN = re.compile(
    r"\b(?:decid\w*|agree\w*|going with|go with|went with|chose|chosen|choose|picked|pick|"
    r"settled|confirmed|approved|final)\b",
    re.I,
)


def is_option(text: str, section: str | None) -> bool:
    """Whether a sentence is an option under consideration: it sits under a heading that
    lists options and says nothing of a choice made. "Per-seat pricing with one tier." under
    "## Options" was a decision (the sample vault's pricing meeting chose under "## Outcome")."""
    return bool(section and _OPTIONS_HEADING.search(section) and not _CHOSEN.search(text))


# A section that records changes made: "## Changelog", "## 8.x releases", "Release notes",
# "What's new". Its imperatives are what a release did ("Add support for cancelled dates.").
_CHANGES_HEADING = re.compile(r"\b(?:change ?log|release notes?|releases|what'?s new)\b", re.I)


def is_change(text: str, section: str | None) -> bool:
    """Whether a sentence records a change made: it sits under a heading of changes (a change
    log, release notes) and has no word of obligation, intention or time and no owner, which
    keep a task ("Dana to write the notes for 2.1." under "## Releases")."""
    if not (section and _CHANGES_HEADING.search(section)):
        return False
    text = text.replace("’", "'")
    return not _owed(text, _main_clause(text))


def is_release_note(text: str, section: str | None) -> bool:
    """Whether a sentence read as a decision is what a release did, not a choice the note
    records: a change-log line ("fix(workspace): consistent tree item sort order"), or a
    sentence under a heading of changes that says nothing of a choice made ("Vaults can now
    be configured with their own URL." under "## Release notes"; "We decided to drop 3.8."
    there stays a decision)."""
    if _CHANGELOG.match(text):
        return True
    return bool(section and _CHANGES_HEADING.search(section) and not _CHOSEN.search(text))


def sentence_role(
    text: str, probs: Sequence[float], thresholds: Mapping[str, float],
    section: str | None = None,
) -> str:
    """The model's most likely role for a sentence, unless its form rules that role out: an
    action that is a statement (`is_statement`), an instruction (`is_instruction`) or a
    change recorded under its `section` heading (`is_change`), a
    question with neither a question mark nor a word of doubt (`is_question_form`), a
    decision that is an option listed under its `section` heading (`is_option`) or a change a
    release made (`is_release_note`). Then the
    next most likely role the form allows, if the model is as sure of it as a listed item
    needs (`thresholds`, per role), else `context`: for a sentence read as an action with
    p = 0.99 the rest is noise ("that was very nice." in a meeting), and taking it would turn
    that noise into claims and questions (seed dev: the next role always cost ClaimBuster dev
    claim F1 0.724 -> 0.536; this rule 0.726, seed dev macro-F1 77.3 -> 78.3)."""
    order = sorted(range(len(ROLES)), key=lambda j: (-float(probs[j]), j))
    for rank, j in enumerate(order):
        role = ROLES[j]
        if (
            (
                role == "action"
                and (is_statement(text) or is_instruction(text) or is_change(text, section))
            )
            or (role == "question" and not is_question_form(text))
            or (
                role == "decision"
                and (is_option(text, section) or is_release_note(text, section))
            )
        ):
            continue
        if rank == 0 or float(probs[j]) >= thresholds.get(role, 0.0):
            return role
        return "context"
    return "context"

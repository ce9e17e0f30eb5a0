"""Template issue drafting: titles, steps, expected/actual behaviour and labels from plain text."""

from __future__ import annotations

import re

from agents.engines.base import Classification, Kind, Severity, Spec
from agents.engines.text_prep import clean_text, first_sentence, sentences

TITLE_MAX = 80

_GREETING = re.compile(
    r"^(hi|hello|hey|yo|dear|good (morning|afternoon|evening))\b[^,.!?]{0,25}[,.!:\-]*\s+",
    re.IGNORECASE,
)
_PRAISE_PREFIX = re.compile(
    r"^(i )?(really |absolutely )?(love|like|enjoy|adore)[^,.!]{0,40}?(\s+but|,\s*but|[,.!]+)\s+"
    r"|^(great|good|nice|awesome|amazing|cool|excellent|best|fantastic|solid)"
    r"\b[^,.!]{0,40}?(\s+but|,\s*but|[,.!]+)\s+"
    r"|^(thanks|thank you)[^,.!]{0,30}[,.!]+\s+(but\s+)?",
    re.IGNORECASE,
)
_ALLOW_LEAD = re.compile(
    r"^(it )?(would|will|'d) be (really |very |so )?(nice|great|cool|awesome|good|helpful|useful)"
    r" if (we|i|users|people|you|u) (could|can|were able to|had the option to) "
    r"|^(can|could) (we|i) (please |pls )?(be able to )?(?!get |have )"
    r"|^i('d| would) (like|love) to be able to |^let (us|me) ",
    re.IGNORECASE,
)
_FEATURE_LEAD = re.compile(
    r"^(can|could) (we|i) (please |pls )?(get|have) "
    r"|^(feature request|suggestion|idea|request|proposal)\s*[:\-]\s*"
    r"|^(please|pls|plz|pleeease|kindly)\s+(could you |can you |you should )?"
    r"|^(can|could|would) (you|u|we|someone) (please |pls )?"
    r"|^(it )?(would|will) be (really |very |so )?(nice|great|cool|awesome|good|helpful|useful)"
    r"( if (you|u) (could|would|can)| to (have|get|see))?\s*"
    r"|^i('d| would) (really )?(like|love) (it if you (would|could) |to (have|see|get) )?"
    r"|^i wish (you would |you'd |there (was|were) |it (had|could) )?"
    r"|^(you )?(should|need to|must) (really )?"
    r"|^(we|i) (need|want) (a way to |an option to |the ability to )?"
    r"|^(there should be|it needs|needs|missing)\s+",
    re.IGNORECASE,
)
_BUG_SUBJECT = re.compile(r"^(it|this)\s+(?=\w+s\b|keeps |won'?t )", re.I)
_CONNECTIVE = re.compile(
    r"^(however|but|also|and|so|though|although|unfortunately|sadly|anyway|btw|ps)\b[,:]?\s*",
    re.IGNORECASE,
)
_REQUEST_VERB = re.compile(
    r"^(add|allow|enable|support|make|let|bring|improve|include|show|give|provide|remove|"
    r"introduce|offer|integrate|implement|create|change|update|fix|disable|hide|display)\b",
    re.IGNORECASE,
)
_FEATURE_CUE = re.compile(
    r"\b(add|please|pls|plz|wish|would be|feature|option|support|allow|could you|can you|"
    r"should|need|want|suggest\w*|idea)\b",
    re.IGNORECASE,
)
_BUG_CUE = re.compile(
    r"\b(crash\w*|error\w*|bug\w*|broken|break\w*|fail\w*|freez\w*|stuck|not working|"
    r"doesn'?t|does not|won'?t|can'?t|cannot|unable|wrong|missing|disappear\w*|slow|lag\w*|"
    r"glitch\w*|issue|problem|stopped|keeps)\b",
    re.IGNORECASE,
)
_TRAILING_WORDS = re.compile(
    r"(\s+(the|a|an|to|and|or|but|of|for|with|in|on|at|my|your|when|so|because|that|which))+$",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r",\s+|;\s+|\s+-\s+|\s+(?:but|because|which|so that|and then)\s+")
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•]|step \d+[:.)]?)\s+(.+)$", re.IGNORECASE)
_INLINE_STEPS = re.compile(r"(?:^|\s)(?:\d{1,2}[.)]|step \d+[:.)]?)\s+", re.IGNORECASE)
_STEPS_HEADING = re.compile(r"(steps|repro\w*|how to reproduce|to reproduce)\b", re.IGNORECASE)
_SECTION_HEADING = re.compile(r"^[A-Za-z][\w /'?-]{0,40}:?$")
_EXPECTED = re.compile(r"^\s*expected( behaviou?r| result)?\s*[:\-]\s*(.+)$", re.I | re.M)
_ACTUAL = re.compile(r"^\s*(actual|current)( behaviou?r| result)?\s*[:\-]\s*(.+)$", re.I | re.M)
_SHOULD_BUT = re.compile(
    r"(?:it |this |that )?should(?:n'?t| not)? ([^.!?]{3,160}?),? (?:but|instead)"
    r"(?: it| instead)? ([^.!?]{3,200})",
    re.IGNORECASE,
)
_LONE_I = re.compile(r"\bi\b")
_SPACES = re.compile(r"\s+")

_KIND_LABELS: dict[Kind, tuple[str, ...]] = {
    "bug": ("bug", "type: bug", "kind/bug", "type/bug", "bug report", "defect"),
    "feature": (
        "enhancement",
        "feature",
        "feature request",
        "type: feature",
        "type: enhancement",
        "kind/feature",
        "kind/enhancement",
        "type/feature",
    ),
    "question": ("question", "type: question", "kind/question", "type/question", "support"),
}
_FALLBACK_TITLES: dict[Kind, str] = {
    "bug": "Bug report from community feedback",
    "feature": "Feature request from community feedback",
    "question": "Question from community feedback",
}


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text).strip(" \t-–—:;,")
    return _LONE_I.sub("I", text)


def _shorten(text: str, limit: int = TITLE_MAX) -> str:
    if len(text) <= limit:
        return text
    for match in _CLAUSE_BREAK.finditer(text):
        if 20 <= match.start() <= limit:
            head = text[: match.start()]
            if len(head) >= limit * 0.45:
                return head
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    cut = _TRAILING_WORDS.sub("", cut)
    return cut[:limit]


def _pick_sentence(text: str, kind: Kind) -> str:
    cleaned = clean_text(text)
    lines = [line for line in cleaned.splitlines() if line.strip()]
    if len(lines) > 1 and 8 <= len(lines[0]) <= TITLE_MAX and not lines[0].endswith((":", ",")):
        first_line = lines[0]
        if not _LIST_ITEM.match(first_line):
            return first_line
    candidates = [s for s in sentences(cleaned) if len(s) >= 3 and not _LIST_ITEM.match(s)]
    if not candidates:
        return cleaned
    cue = {"bug": _BUG_CUE, "feature": _FEATURE_CUE}.get(kind)
    stripped = [_PRAISE_PREFIX.sub("", _GREETING.sub("", s)) for s in candidates]
    if kind == "question":
        for original, sentence in zip(candidates, stripped, strict=True):
            if original.endswith("?"):
                return sentence
    if cue is not None:
        for sentence in stripped:
            if cue.search(sentence) and not _PRAISE_PREFIX.match(sentence + " "):
                return sentence
    return stripped[0]


def _as_request_or_report(sentence: str, kind: Kind) -> str:
    """Drop greetings, praise and filler; a feature request starts with a verb."""
    for _ in range(3):
        before = sentence
        sentence = _tidy(_PRAISE_PREFIX.sub("", _GREETING.sub("", sentence)))
        sentence = _tidy(_CONNECTIVE.sub("", sentence))
        if sentence == before:
            break
    if kind == "feature":
        allow = _ALLOW_LEAD.match(sentence)
        if allow:
            sentence = f"Allow users to {sentence[allow.end() :]}"
        sentence = _tidy(_FEATURE_LEAD.sub("", sentence))
        sentence = _tidy(re.sub(r"^(please|pls|plz)\s+", "", sentence, flags=re.I))
        if sentence and not _REQUEST_VERB.match(sentence):
            sentence = f"Add {sentence}"
        sentence = re.sub(r"\s*(please|pls|plz)[!.]*$", "", sentence, flags=re.I)
    elif kind == "bug":
        sentence = _BUG_SUBJECT.sub("", sentence)
    return sentence


def draft_title(text: str, kind: Kind, *, actionable: bool = True) -> str:
    """A short, issue-style title (at most 80 characters) rewritten from the feedback.

    Greetings, praise and filler ("pls", "it would be nice to have") are dropped, feature
    requests start with a verb ("Add dark mode"), and long sentences are cut at a clause.
    A message that is not actionable (praise, chatter) keeps its own words.

    Args:
        text: The feedback text.
        kind: The classified kind.
        actionable: Whether the message carries a problem, request or question.

    Returns:
        The title; a generic one for the kind when nothing usable remains.
    """
    if actionable:
        sentence = _as_request_or_report(_tidy(_pick_sentence(text, kind)), kind)
    else:
        sentence = _tidy(first_sentence(text))
    keep_question = kind == "question" and sentence.endswith("?")
    sentence = _shorten(_tidy(sentence.rstrip(".!?… ")))
    sentence = _tidy(sentence)
    if keep_question and len(sentence) < TITLE_MAX:
        sentence += "?"
    if len(re.sub(r"\W", "", sentence)) < 3:
        return _FALLBACK_TITLES[kind]
    return sentence[0].upper() + sentence[1:]


def extract_steps(text: str) -> list[str]:
    """Numbered or bulleted steps, preferring those under a "steps to reproduce" heading.

    Args:
        text: The feedback text.

    Returns:
        Up to 20 steps in order; empty when the text has none.
    """
    lines = clean_text(text).splitlines()
    under_heading: list[str] = []
    all_items: list[str] = []
    in_steps = False
    for line in lines:
        item = _LIST_ITEM.match(line)
        if item:
            step = _tidy(item.group(1))
            all_items.append(step)
            if in_steps:
                under_heading.append(step)
        elif line.strip():
            heading = line.strip().rstrip(":")
            if _STEPS_HEADING.search(heading) and len(heading) <= 40:
                in_steps = True
            elif _SECTION_HEADING.match(line.strip()) and under_heading:
                in_steps = False
    steps = under_heading or all_items
    if len(steps) <= 1:
        for line in lines:
            markers = _INLINE_STEPS.findall(line)
            if len(markers) >= 2:
                parts = [_tidy(p) for p in _INLINE_STEPS.split(line)]
                steps = [p for p in parts[-len(markers) :] if p]
                break
    return [s[:500] for s in steps if s][:20]


def extract_behaviour(text: str) -> tuple[str | None, str | None]:
    """Expected and actual behaviour when the text states them.

    Args:
        text: The feedback text.

    Returns:
        `(expected, actual)`, each `None` when not found.
    """
    cleaned = clean_text(text)
    expected_match = _EXPECTED.search(cleaned)
    actual_match = _ACTUAL.search(cleaned)
    expected = _tidy(expected_match.group(2)) if expected_match else None
    actual = _tidy(actual_match.group(3)) if actual_match else None
    if expected is None or actual is None:
        should_but = _SHOULD_BUT.search(cleaned.replace("\n", " "))
        if should_but:
            expected = expected or f"It should {_tidy(should_but.group(1))}."
            actual = actual or f"{_tidy(should_but.group(2))[:1].upper()}{should_but.group(2)[1:]}."
    return (expected[:4000] if expected else None, actual[:4000] if actual else None)


def acceptance_criteria(text: str, title: str) -> list[str]:
    """Acceptance criteria for a feature: the user's own list items, else a template.

    Args:
        text: The feedback text.
        title: The drafted title.

    Returns:
        Between one and ten criteria.
    """
    items = [
        _tidy(m.group(1)) for line in clean_text(text).splitlines() if (m := _LIST_ITEM.match(line))
    ]
    if items:
        return [item[:300] for item in items[:10]]
    request = title[0].lower() + title[1:] if title else "the requested change"
    return [
        f"Users can use the new capability described in the request ({request}).",
        "Existing behaviour is unchanged for users who do not use it.",
        "The change is documented and covered by automated tests.",
    ]


def _normalise_label(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", label.lower()).strip()


def choose_labels(kind: Kind, severity: Severity, labels: list[str]) -> list[str]:
    """Labels for the issue, chosen only from those the repository offers.

    Args:
        kind: The classified kind.
        severity: The assessed severity.
        labels: The repository's labels (the only ones that may be returned).

    Returns:
        At most one kind label and one severity label, in the repository's spelling.
    """
    by_name = {_normalise_label(label): label for label in labels}
    chosen: list[str] = []
    for candidate in _KIND_LABELS[kind]:
        hit = by_name.get(_normalise_label(candidate))
        if hit is not None:
            chosen.append(hit)
            break
    for prefix in ("", "severity ", "sev ", "priority "):
        hit = by_name.get(f"{prefix}{severity}")
        if hit is not None and hit not in chosen:
            chosen.append(hit)
            break
    return chosen


def draft_spec(text: str, classification: Classification, *, labels: list[str]) -> Spec:
    """Draft a complete issue from feedback text and its classification.

    Args:
        text: The feedback text.
        classification: The engine's verdict on the text.
        labels: The repository's labels.

    Returns:
        The drafted spec.
    """
    kind = classification.kind
    title = draft_title(text, kind, actionable=classification.actionable)
    summary = {
        "bug": "A community member reported a problem.",
        "feature": "A community member requested a change.",
        "question": "A community member asked a question.",
    }[kind]
    # The reporter's own words are quoted verbatim beside the draft when it is filed.
    description = (
        f"{summary} Severity: {classification.severity}.\n\n"
        f"Triage notes: {classification.reasoning}"
    )[:20000]
    steps: list[str] = []
    expected: str | None = None
    actual: str | None = None
    criteria: list[str] = []
    if kind == "bug":
        steps = extract_steps(text)
        expected, actual = extract_behaviour(text)
    elif kind == "feature":
        criteria = acceptance_criteria(text, title)
    return Spec(
        title=title,
        description=description,
        steps_to_reproduce=steps,
        expected_behavior=expected,
        actual_behavior=actual,
        acceptance_criteria=criteria,
        labels=choose_labels(kind, classification.severity, labels),
        confidence=round(
            classification.confidence * (0.8 if title in _FALLBACK_TITLES.values() else 1.0), 4
        ),
    )

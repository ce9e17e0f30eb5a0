"""Keyword and structure heuristics that grade how severe a feedback item is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.engines.base import Kind, Severity

# Each cue is a regex fragment matched on word boundaries in lower-cased text. The word
# "critical" (or "urgent") on its own is deliberately not a cue: anyone can type it.
_CRITICAL_CUES: dict[str, str] = {
    "security": r"security (hole|issue|bug|flaw|problem)|vulnerab\w*|exploit\w*|\bcve-\d+"
    r"|\bxss\b|sql injection|remote code execution|\brce\b|privilege escalation",
    "credential leak": r"(password|token|api key|credentials?|private key)s? "
    r"(is |are |were |was |got )?(leak\w*|expos\w*|visible|shown|in plain ?text)"
    r"|leak\w* (my |the |user )?(password|token|credential|data|personal)",
    "data loss": r"data loss|lost (all )?(my |our |the )?(data|files|notes|messages|progress|work"
    r"|photos|history|account)|(data|files|notes|messages|photos|history|progress) "
    r"(was |were |got |is |are )?(deleted|wiped|erased|gone|lost|disappeared)|wiped (out )?(all|my)"
    r"|deleted (all|everything)|corrupt\w* (my |the |all )?(data|database|files?|saves?)",
    "outage": r"outage|(site|server|service|app|everything|production|prod|api) (is |went |goes )?"
    r"(completely )?down\b|nobody can (log ?in|use|access|connect)|no one can (log ?in|use|access)",
    "payment": r"charged (twice|double|multiple times)|double charg\w*|charged but|lost (my )?money"
    r"|payment (taken|deducted) but",
}
_HIGH_CUES: dict[str, str] = {
    "crash": r"crash\w*|force clos\w*|segfault|segmentation fault|core dump\w*|panic\w*"
    r"|keeps closing|closes itself|shuts down",
    "freeze": r"freez\w*|froze|hangs?\b|hanging|stuck|unresponsive|not responding|infinite loop"
    r"|deadlock\w*",
    "cannot use": r"(can ?not|can't|cant|unable to|impossible to|won't let me) (log ?in|sign ?in"
    r"|open|use|access|start|launch|load|save|send|login)|unusable|completely broken"
    r"|doesn'?t (open|start|launch|load) at all|won'?t (open|start|launch|load)",
    "exception": r"exception|traceback|stack ?trace|fatal error|error 5\d\d|\b50[0-4]\b",
    "data corruption": r"corrupt\w*|data (is )?(wrong|missing)",
}
_BREADTH_CUES: dict[str, str] = {
    "all users": r"all (the )?users|every(one|body)|all (of )?(our|my) (users|customers|members)"
    r"|for all accounts|affects all|whole (team|server|company)",
    "every time": r"every ?time|always (happens|crashes|fails)|100% of the time|constantly",
}
_LOW_CUES: dict[str, str] = {
    "cosmetic": r"typo\w*|spelling|cosmetic|misaligned|alignment|padding|font|colou?r is"
    r"|minor|small (issue|bug|thing)|slightly|a bit off|nitpick",
}
_STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)|^\s+at [\w$.<>]+\(.*\)$|^\s+at .+:\d+:\d+\)?$"
    r"|File \".+\", line \d+|Exception in thread|\w+(Error|Exception): ",
    re.MULTILINE,
)


def _compile(cues: dict[str, str]) -> dict[str, re.Pattern[str]]:
    return {name: re.compile(rf"(?<![\w-])(?:{pattern})") for name, pattern in cues.items()}


_CRITICAL = _compile(_CRITICAL_CUES)
_HIGH = _compile(_HIGH_CUES)
_BREADTH = _compile(_BREADTH_CUES)
_LOW = _compile(_LOW_CUES)


@dataclass(frozen=True)
class SeverityVerdict:
    """A severity grade and the cues that produced it."""

    severity: Severity
    cues: list[str] = field(default_factory=list)


def _found(patterns: dict[str, re.Pattern[str]], text: str) -> list[str]:
    return [name for name, pattern in patterns.items() if pattern.search(text)]


def has_problem_cue(text: str) -> bool:
    """True when `text` mentions a crash, failure, data loss or similar problem.

    Args:
        text: Feedback text in any case.

    Returns:
        Whether any critical or high severity cue, or a stack trace, is present.
    """
    lowered = text.lower()
    return bool(_found(_CRITICAL, lowered) or _found(_HIGH, lowered) or _STACK_TRACE.search(text))


def assess_severity(text: str, kind: Kind) -> SeverityVerdict:
    """Grade the severity of a feedback item from its wording and structure.

    Security problems, data loss, outages and payment failures are critical; crashes,
    freezes, lock-outs and stack traces are high (critical when they hit everyone); typos
    and cosmetic issues are low; other bugs are medium. Feature requests and questions are
    low unless they describe one of those problems.

    Args:
        text: The feedback text.
        kind: The classified kind.

    Returns:
        The severity and the names of the cues found.
    """
    lowered = text.lower()
    critical = _found(_CRITICAL, lowered)
    high = _found(_HIGH, lowered)
    if _STACK_TRACE.search(text) and "stack trace" not in high:
        high.append("stack trace")
    breadth = _found(_BREADTH, lowered)
    low = _found(_LOW, lowered)
    cues = critical + high + breadth + low

    if critical:
        severity: Severity = "critical"
    elif high and "all users" in breadth:
        severity = "critical"
    elif high:
        severity = "high"
    elif kind == "bug":
        severity = "low" if low else "medium"
    else:
        severity = "medium" if breadth and kind == "question" else "low"
    if kind != "bug" and severity == "critical" and not critical:
        severity = "high"
    return SeverityVerdict(severity=severity, cues=cues)

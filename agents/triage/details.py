"""What a bug report lacks that a maintainer would need, as at most three questions."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUESTIONS = 3
#: A report is asked about only when at least this many of the four parts are missing.
MIN_MISSING = 2


@dataclass(frozen=True)
class Part:
    """One piece of a good bug report, how to spot it, and what to ask when it is missing."""

    name: str
    present: re.Pattern[str]
    question: str


PARTS: tuple[Part, ...] = (
    Part(
        "steps",
        re.compile(
            r"(^|\n)\s*(\d+[.)]|[-*•])\s+\S|\bsteps?\b|\brepro|\bwhen i\b|\bafter i\b|\bif i\b"
            r"|\bwhenever\b|\bi (click|tap|open|press|run|try|type|select|go to)",
            re.IGNORECASE,
        ),
        "What do you do, step by step, right before it happens?",
    ),
    Part(
        "expected_actual",
        re.compile(
            r"\bexpect|\bshould\b|\binstead\b|\bsupposed to\b|\bactual\b"
            r"|\bbut (it|then|now|nothing)\b",
            re.IGNORECASE,
        ),
        "What did you expect to happen, and what happened instead?",
    ),
    Part(
        "environment",
        re.compile(
            r"\bv?\d+\.\d+(\.\d+)?\b|\bversion\b|\bwindows\b|\bmac ?os\b|\bosx\b|\blinux\b"
            r"|\bubuntu\b|\bandroid\b|\bios\b|\biphone\b|\bipad\b|\bpixel\b|\bsamsung\b"
            r"|\bchrome\b|\bfirefox\b|\bsafari\b|\bedge\b|\bdesktop\b|\bmobile\b|\bbrowser\b",
            re.IGNORECASE,
        ),
        "Which version are you on, and on what platform (OS, browser or device)?",
    ),
    Part(
        "error_output",
        re.compile(
            r"\berror\b|\bexception\b|\btraceback\b|\bstack ?trace\b|\bcrash(es|ed)? with\b"
            r"|```|\blogs?\b|\bconsole\b|\bcode \d{3}\b|\b[45]\d\d\b|\bscreenshot\b",
            re.IGNORECASE,
        ),
        "Did you see an error message or log output? If so, please paste it.",
    ),
)


def missing_parts(text: str) -> list[Part]:
    """The parts of a bug report that `text` does not appear to contain, in asking order."""
    return [part for part in PARTS if not part.present.search(text)]


def questions_for(text: str) -> list[str]:
    """At most three questions when enough is missing; empty when the report will do."""
    missing = missing_parts(text)
    if len(missing) < MIN_MISSING:
        return []
    return [part.question for part in missing[:MAX_QUESTIONS]]

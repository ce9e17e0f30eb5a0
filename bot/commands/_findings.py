"""One line of the `iterateswarm check` report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["ok", "warn", "fail", "info"]


@dataclass
class Finding:
    """One line of the report."""

    outcome: Outcome
    subject: str
    detail: str

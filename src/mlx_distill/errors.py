"""The one located-problem type: a `Finding` names the rule, the file, the line and the record, and
`InputError` raises one. Every reader of user input reports through them, and the CLI prints an
`InputError` as one line, so they sit on the bottom floor where every module can import them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

ERROR, WARNING = "error", "warning"


@dataclass
class Finding:
    """A located problem with input: the rule it breaks, where (file, line, record id) and how bad
    (`ERROR` or `WARNING`). The validator collects them; `InputError` raises one."""

    rule: str | None
    message: str
    path: str | os.PathLike | None = None
    line: int | None = None
    record_id: str | None = None
    severity: str = ERROR

    def location(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line else str(self.path))
        if self.record_id:
            parts.append(f"record {self.record_id}")
        return " ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc + ': ' if loc else ''}{self.severity} [{self.rule}] {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "record_id": self.record_id,
            "message": self.message,
        }

    def error(self) -> "InputError":
        """This finding, to raise."""
        return InputError(
            self.message,
            path=self.path,
            line=self.line,
            record_id=self.record_id,
            rule=self.rule,
            severity=self.severity,
        )


class InputError(ValueError):
    """Bad user input that stops the work: one `Finding`, raised. Printed as one line by the CLI."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike | None = None,
        line: int | None = None,
        record_id: str | None = None,
        rule: str | None = None,
        severity: str = ERROR,
    ):
        self.finding = Finding(rule, message, path, line, record_id, severity)
        super().__init__(self.location() + message)

    message = property(lambda self: self.finding.message)
    path = property(lambda self: self.finding.path)
    line = property(lambda self: self.finding.line)
    record_id = property(lambda self: self.finding.record_id)
    rule = property(lambda self: self.finding.rule)
    severity = property(lambda self: self.finding.severity)

    def location(self) -> str:
        parts = [p for p in (self.finding.location(), f"[{self.rule}]" if self.rule else "") if p]
        return " ".join(parts) + ": " if parts else ""

"""Plain data passed between the layers. Imports nothing from perfaudit."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class FixKind(str, enum.Enum):
    """How a rule's fix may be applied (ruff's Applicability)."""

    NONE = "none"
    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, slots=True)
class Span:
    """A source range. Lines and columns are 1-based; end_column is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    code: str
    name: str
    message: str
    span: Span
    severity: str = "warning"
    fixable: bool = False
    #: first line of the statement holding the finding (suppression comments may sit there)
    stmt_line: int = 0
    #: name of the enclosing function (qualified within the module), for hotspot statistics
    function: str = ""
    #: PA106: the chain blocks only under branch conditions on the values passed that
    #: perfaudit cannot evaluate ("may block")
    conditional: bool = False
    #: what the finding shares with others of the same root cause (PA106: the blocking
    #: call at the end of the chain); the text report groups findings by it
    cause: str = ""
    #: the kind of code the file is: "code" (application), "test" or "example"
    context: str = "code"
    #: PA101-PA106, PA201-PA204: the call runs only in a one-shot CLI command (a function registered
    #: with a CLI framework, or only reached from such functions), on a loop of its own
    one_shot: bool = False

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.span.line, self.span.column, self.code)


@dataclass(frozen=True, slots=True)
class RuleMeta:
    code: str
    name: str
    summary: str
    fix: FixKind
    doc: str
    default_enabled: bool = True


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    files_scanned: int = 0
    #: the paths scanned, as reported
    paths: list[str] = field(default_factory=list)
    rules: dict[str, RuleMeta] = field(default_factory=dict)
    #: findings suppressed by a baseline file, and baseline entries no longer found
    baseline_matched: int = 0
    baseline_stale: int = 0
    #: with --update-baseline: stale entries removed from the baseline file
    baseline_removed: int = 0
    #: functions (path, qualified name) -> (line, cyclomatic complexity), filled by --statistics
    complexity: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    #: findings in test and example code that are not reported (`test-code` is not
    #: "report"); with "summary" the text output counts them in one line
    hidden: list[Finding] = field(default_factory=list)
    #: the `test-code` setting the scan ran with ("summary" when files had several and
    #: one of them summarises)
    test_code: str = "report"
    #: the `cli-commands` setting the scan ran with (as ``test_code``): findings in
    #: one-shot CLI commands that are not reported are in ``hidden`` too
    cli_commands: str = "report"

    @property
    def parse_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.code == "PA000"]

    def hidden_counts(self) -> dict[str, int]:
        """Findings not reported, per context ("test", "example"), and those of
        application code in one-shot CLI commands ("one_shot")."""
        out = {"test": 0, "example": 0, "one_shot": 0}
        for f in self.hidden:
            key = f.context if f.context != "code" else "one_shot"
            out[key] = out.get(key, 0) + 1
        return out

    def exit_code(self, *, exit_zero: bool = False) -> int:
        """0 when clean, 1 when there are findings (0 with ``exit_zero``).

        Only reported findings count: those in test and example code that are summarised
        or ignored do not change the exit code.
        """
        if self.findings and not exit_zero:
            return 1
        return 0

"""The one error type that reaches the user: a message and an exit code."""

from __future__ import annotations

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
#: `perfaudit profile`: the target raised, exited non-zero or was killed
EXIT_TARGET = 4
#: `perfaudit profile`: the target ran past --timeout and was stopped
EXIT_TIMEOUT = 5


class PerfauditError(Exception):
    """A user-facing failure: printed as one line, the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

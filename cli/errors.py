"""What a command reports when it cannot do its job, and with which exit code."""

from __future__ import annotations

# 0: done; 1: done but something failed (rejected events, a service down or refusing the key);
# 2: the command was used wrongly (bad option, unreadable or malformed file). Click uses 2 as well.
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to explain to the user in one or two sentences, then exit with `exit_code`."""

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILED, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint


class BadFile(CliError):
    """A file the command cannot read as events, with the line where it went wrong."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}", exit_code=EXIT_USAGE)
        self.path = path
        self.line = line

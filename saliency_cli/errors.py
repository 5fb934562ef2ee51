"""Errors a user can cause; the CLI prints their message on one line and exits with code 2."""


class UserError(ValueError):
    """Bad input, options or files: reported as one line, never as a traceback.

    A ValueError, so that library users can catch bad arguments the usual way.
    """


class ModelFileError(UserError):
    """A model file that is missing, unreadable or does not follow the format."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of `exc`'s message (its type's name when it has none), at most `limit` chars.

    NOTE: some library errors carry an empty message (zipfile's EOFError): never index
    `str(exc).splitlines()[0]` directly.
    """
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return type(exc).__name__


class Stopped(Exception):
    """Work stopped before its end (Ctrl-C: 130; the scheduler lost: 75), said in one line with that exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


#: sysexits.h's EX_TEMPFAIL: a temporary failure (the cluster's scheduler went away); trying again may work.
EX_TEMPFAIL = 75
#: 128 + SIGINT: stopped by Ctrl-C.
EX_INTERRUPTED = 130

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

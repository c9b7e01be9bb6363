"""User-facing errors: one line saying what is wrong and what to do."""


class SegscopeError(Exception):
    """An input or usage problem the user can fix; shown as one line, never a traceback."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))

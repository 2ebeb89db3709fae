"""Exceptions whose message is meant for the person who caused them."""


class UserError(Exception):
    """Bad input or a refused action; the message is shown to the person as is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The modal input block at fault, when the error came from a modal.
        self.field = field

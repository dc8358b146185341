"""The one error type a user ever sees.

Raise :class:`UserError` for anything caused by the input (a malformed file, an
unknown option value, a missing record). Its message is one sentence that names
the file, line or record and says what is wrong. Entry points built with
:func:`utrbench.cli.command` print it and exit with status 2, never a traceback.
Everything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input: printed as ``error: <message>`` with exit status 2."""

    exit_code = 2

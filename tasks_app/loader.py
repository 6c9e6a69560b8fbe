"""TaskLoader: the one set of rules a task definition must pass, wherever it enters (file, API, form, admin).

STUB: the storage engineer implements this module.
"""


class TaskValidationError(ValueError):
    """errors: {field name: [messages]}; each message names the field's value."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in errors.items()))

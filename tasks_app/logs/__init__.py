"""Log files: the one logging format and its rotated handler, and reading a task's log without loading it."""

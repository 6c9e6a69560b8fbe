"""One word and one colour per status (a task's state or a run's result), for every badge, filter and the chart.
The words carry the "status" context: a bare "Queued" is also a column heading, translated differently."""
from django.utils.translation import pgettext_lazy

# status: (word, Bootstrap colour name of its badge, the same colour for the SVG chart)
STATUSES = {
    "running": (pgettext_lazy("status", "Running"), "primary", "#0d6efd"),
    "queued": (pgettext_lazy("status", "Queued"), "info", "#0dcaf0"),
    "idle": (pgettext_lazy("status", "Idle"), "secondary", "#6c757d"),
    "disabled": (pgettext_lazy("status", "Disabled"), "light", "#f8f9fa"),
    "success": (pgettext_lazy("status", "Success"), "success", "#198754"),
    "failed": (pgettext_lazy("status", "Failed"), "danger", "#dc3545"),
    "timeout": (pgettext_lazy("status", "Timed out"), "warning", "#ffc107"),
    "stopped": (pgettext_lazy("status", "Stopped"), "dark", "#212529"),
    "skipped": (pgettext_lazy("status", "Skipped"), "secondary", "#6c757d"),
    "lost": (pgettext_lazy("status", "Lost"), "danger", "#dc3545"),
}
UNKNOWN = (None, "secondary", "#6c757d")


def word(status):
    return STATUSES.get(status, UNKNOWN)[0] or status


def style(status):
    return STATUSES.get(status, UNKNOWN)[1]


def colour(status):
    return STATUSES.get(status, UNKNOWN)[2]


def choices(values):
    """[(value, word)] for a filter's select."""
    return [(value, word(value)) for value in values]

"""Notification channels (Apprise), alert rules, the notices they send and their retries, and the alerts for
what did not happen: missed slots, overruns, a scheduler that is down."""

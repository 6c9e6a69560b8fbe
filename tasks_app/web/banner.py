"""A context processor: the red banner every page shows a logged-in user when no scheduler has been alive for
SCHEDULER_BANNER_AFTER seconds (30). One primary-key read per page, only when the template asks (the list's row
refresh does not); the lease says it with the database's clock."""
from functools import cache

from django.conf import settings
from django.db import Error as DatabaseError

from tasks_app.models import SchedulerLease


def scheduler_banner(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def down_since():  # a template calls a callable when it reads the variable; cached for the second read
        try:
            lease = SchedulerLease.objects.current()
        except DatabaseError:
            return None  # the page itself says what is wrong with the database
        if lease is None or not lease.holder:
            return None  # no scheduler was ever started here: nothing has stopped
        return lease.down_since(settings.SCHEDULER_BANNER_AFTER)

    return {"scheduler_down_since": down_since}

"""What every page shows whatever its view: the pauses on now (the banner of base.html). One indexed query per
page, only for a logged-in user, and only when the template reads them (the list's row refresh does not)."""
from django.utils.functional import SimpleLazyObject

from tasks_app.models import Pause


def pauses(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"active_pauses": SimpleLazyObject(lambda: list(Pause.objects.active()[:10]))}

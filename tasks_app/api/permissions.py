"""One permission class: each view declares the role each action needs, in `required_roles`."""
from rest_framework import exceptions, permissions

from tasks_app.roles import ADMIN, VIEWER, has_role, role_of

from .throttles import AnonThrottle


def required_role(request, view):
    """The role `view` declares for this request: by viewset action, then by HTTP method.

    Undeclared reads need viewer and undeclared writes need admin, so a forgotten entry fails closed."""
    declared = getattr(view, "required_roles", {}) or {}
    action = getattr(view, "action", None)
    method = request.method.lower()
    for key in (action, method):
        if key and key in declared:
            return declared[key]
    return VIEWER if request.method in permissions.SAFE_METHODS else ADMIN


class RolePermission(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            throttle = AnonThrottle()
            if not throttle.allow_request(request, view):
                raise exceptions.Throttled(throttle.wait())
            return False  # DRF turns this into 401, as the authenticator sends WWW-Authenticate
        needed = required_role(request, view)
        if has_role(user, needed):
            return True
        role = role_of(user)
        self.message = (
            f"This needs the {needed} role; you have "
            + (f"the {role} role." if role else "no role. Ask an admin to add you to a group.")
        )
        return False


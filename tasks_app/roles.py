"""Roles are Django groups: viewer < operator < admin. Superusers are admins."""
VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ORDER = (VIEWER, OPERATOR, ADMIN)


def role_of(user) -> str | None:
    """The highest role a user holds, or None (an authenticated user with no role may see nothing)."""
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    if not hasattr(user, "_role_names"):
        # A page asks about the role many times (every row, every admin permission): read the groups once.
        user._role_names = set(user.groups.values_list("name", flat=True))
    names = user._role_names
    for role in reversed(ORDER):
        if role in names:
            return role
    return None


def has_role(user, needed: str) -> bool:
    role = role_of(user)
    return role is not None and ORDER.index(role) >= ORDER.index(needed)

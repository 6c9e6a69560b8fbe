"""Audit entries for what happens outside the services: logins (Django's user_logged_in and user_login_failed, and
django-axes' user_locked_out) and users' roles (the superuser flag and the groups viewer, operator, admin, changed
in the admin, a shell or createsuperuser). Connected by the app's ready()."""
from auditlog.models import LogEntry
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model, user_logged_in, user_login_failed
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import m2m_changed, post_save, pre_save

from . import events
from .context import Origin, current_origin, origin_of
from .record import write

FLAGS = ("is_superuser", "is_active")  # what, besides the groups, decides what a user may do


def _via(request) -> str:
    return "admin" if request is not None and request.path.startswith("/admin/") else "web"


def _user_entry(event, user, *, actor, via, changes=None, details=None, origin=None):
    return write(event, model=get_user_model(), object_pk=user.pk, object_id=user.pk, object_repr=user.get_username(),
                 actor=actor, via=via, changes=changes, details=details, origin=origin)


# ---- logins -------------------------------------------------------------------------------------------------

def logged_in(sender, request, user, **kwargs):
    _user_entry(events.LOGIN, user, actor=user, via=_via(request), origin=origin_of(request))


def login_failed(sender, credentials, request=None, **kwargs):
    """One entry per refused attempt: a wrong password, or any password while the pair is locked out (then the
    entry says so, see locked_out)."""
    if request is None or getattr(request, "_audit_login_entry", None) is not None:
        return
    request._audit_login_entry = _attempt(events.LOGIN_FAILED, request, credentials.get("username") or "")


def locked_out(sender, request, username, ip_address, **kwargs):
    """The attempt that locked a user name and address out, or one refused while they are: its entry says locked
    out (axes sends this from within user_login_failed, before or after login_failed sees it)."""
    if request is None:
        return
    entry = getattr(request, "_audit_login_entry", None)
    if entry is None:
        request._audit_login_entry = _attempt(events.LOCKED_OUT, request, username or "")
    elif entry.additional_data["event"] != events.LOCKED_OUT:
        entry.additional_data["event"] = events.LOCKED_OUT
        entry.action = events.ACCESS
        entry.save(update_fields=["additional_data", "action"])


def _attempt(event, request, username):
    """An attempt to log in as `username`: about that user when there is one, else about the name alone. The
    actor is the name tried, never a user: nobody was authenticated."""
    User = get_user_model()
    user = User.objects.filter(**{User.USERNAME_FIELD: username}).first() if username else None
    origin = origin_of(request)
    return write(event, model=User, object_pk=user.pk if user else "", object_id=user.pk if user else None,
                 object_repr=username[:150], actor=username[:150] or "?", via=_via(request),
                 origin=Origin(address=origin.address, cid=origin.cid))


# ---- roles --------------------------------------------------------------------------------------------------

def _who(origin):
    """(actor, via) of a change to a user: the admin's user, or whoever runs manage.py (createsuperuser, a shell)."""
    if origin.user is not None:
        return origin.user.get_username(), "admin"
    return "cli", "cli"


def remember_flags(sender, instance, update_fields=None, **kwargs):
    """Before a user is saved: their flags as stored, unless the save cannot change them (a login saves
    last_login only)."""
    if instance.pk is None or (update_fields is not None and not set(update_fields) & set(FLAGS)):
        instance._audit_flags = None
        return
    instance._audit_flags = sender.objects.filter(pk=instance.pk).values(*FLAGS).first()


def flags_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    origin = current_origin()
    actor, via = _who(origin)
    if created:
        _user_entry(events.USER_CREATED, instance, actor=actor, via=via,
                    changes={name: [None, getattr(instance, name)] for name in FLAGS})
        return
    before = getattr(instance, "_audit_flags", None)
    if before is None:
        return
    changes = {name: [before[name], getattr(instance, name)] for name in FLAGS
               if before[name] != getattr(instance, name)}
    if changes:
        _user_entry(events.ROLES_CHANGED, instance, actor=actor, via=via, changes=changes)


def groups_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """user.groups.add/remove/clear/set, or group.user_set...: one entry per user whose groups changed. The removed
    groups of a clear are read before it (pre_clear)."""
    if action == "pre_clear":
        instance._audit_cleared = list(instance.groups.all()) if not reverse else [instance]
        instance._audit_cleared_users = list(instance.user_set.all()) if reverse else [instance]
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    User = get_user_model()
    if action == "post_clear":
        users, groups = instance._audit_cleared_users, instance._audit_cleared
    elif reverse:  # group.user_set.add(users)
        users, groups = list(User.objects.filter(pk__in=pk_set)), [instance]
    else:
        users, groups = [instance], list(Group.objects.filter(pk__in=pk_set))
    if not groups:
        return
    names = sorted(group.name for group in groups)
    key = "added" if action == "post_add" else "removed"
    origin = current_origin()
    actor, via = _who(origin)
    for user in users:
        _merge_groups(user, key, names, actor=actor, via=via, origin=origin)


def _merge_groups(user, key, names, *, actor, via, origin):
    """The admin's save of a user removes and adds groups in two steps: within one request they make one entry."""
    previous = None
    if origin.cid:
        previous = (LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(user)),
                                            object_pk=str(user.pk), cid=origin.cid,
                                            additional_data__event=events.ROLES_CHANGED).order_by("-pk").first())
    if previous is not None:
        groups = previous.changes.setdefault("groups", {})
        groups[key] = sorted(set(groups.get(key, [])) | set(names))
        previous.save(update_fields=["changes"])
        return
    _user_entry(events.ROLES_CHANGED, user, actor=actor, via=via, changes={"groups": {key: names}}, origin=origin)


def connect():
    User = get_user_model()
    user_logged_in.connect(logged_in, dispatch_uid="audit.logged_in")
    user_login_failed.connect(login_failed, dispatch_uid="audit.login_failed")
    user_locked_out.connect(locked_out, dispatch_uid="audit.locked_out")
    pre_save.connect(remember_flags, sender=User, dispatch_uid="audit.remember_flags")
    post_save.connect(flags_saved, sender=User, dispatch_uid="audit.flags_saved")
    m2m_changed.connect(groups_changed, sender=User.groups.through, dispatch_uid="audit.groups_changed")

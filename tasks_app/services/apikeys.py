"""Use cases about API keys, one function per event (issue, revoke) for the admin and `create_api_key` alike:
an admin-role user issues and revokes only their own keys, a superuser anyone's. Each logs one APIInterface line
(never the key, only its prefix) and writes one audit entry per key."""
import logging
import re
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from ..audit import events as audit_events
from ..audit import record as audit
from ..models import ApiKey

log = logging.getLogger("APIInterface")

LIFETIME = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
LIFETIME_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
LIFETIME_MAX = timedelta(days=36525)


def parse_lifetime(text: str) -> timedelta:
    """'30m', '12h', '90d', '2w' -> a timedelta; ValueError with a sentence naming the value otherwise."""
    match = LIFETIME.match(text or "")
    lifetime = timedelta(**{LIFETIME_UNITS[match.group(2)]: int(match.group(1))}) if match else None
    # At most LIFETIME_MAX: 999999w from now is past the year 9999, an OverflowError where it is added to now.
    if lifetime is None or not timedelta(0) < lifetime <= LIFETIME_MAX:
        raise ValueError(f"{text!r} is not a lifetime such as 30m, 12h, 90d or 2w (minutes, hours, days, weeks; "
                         f"at most 100 years)")
    return lifetime


def may_manage_keys_of(actor, owner) -> bool:
    """A superuser manages anyone's keys; everyone else only their own. actor None is whoever runs manage.py on
    the server (who can reach the database anyway)."""
    return actor is None or actor.is_superuser or actor.pk == owner.pk


def _name(actor):
    return "the command line" if actor is None else actor.get_username()


def issue_key(owner, *, name="", expires_at=None, actor, via):
    """A new key for `owner`, returns (ApiKey, plain key). Raises PermissionDenied if `actor` may not, ValueError
    for an expiry that has already passed."""
    if not may_manage_keys_of(actor, owner):
        raise PermissionDenied(f"{_name(actor)} may not create API keys for {owner.get_username()}: only a "
                               f"superuser creates keys for others.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError(f"expires_at {expires_at.isoformat()} has already passed")
    with transaction.atomic():
        api_key, plain = ApiKey.issue(owner, name=name, expires_at=expires_at)
        audit.key_event(audit_events.KEY_CREATED, api_key, actor=actor, via=via, changes={
            "user": [None, owner.get_username()], "name": [None, name],
            "expires_at": [None, expires_at.isoformat() if expires_at else None]})
    log.info("API key %s… (%s) created for user %s by %s via %s%s", api_key.prefix, name, owner.get_username(),
             _name(actor), via, f", expires {expires_at.isoformat()}" if expires_at else "")
    return api_key, plain


def revoke_keys(keys, *, actor, via) -> list:
    """Revoke the keys that are not revoked yet; returns them. Raises PermissionDenied (and revokes none) if
    one of them belongs to someone `actor` may not manage."""
    keys = [key for key in keys if key.revoked_at is None]
    refused = sorted({key.user.get_username() for key in keys if not may_manage_keys_of(actor, key.user)})
    if refused:
        raise PermissionDenied(f"{_name(actor)} may not revoke API keys of {', '.join(refused)}: only a superuser "
                               f"revokes the keys of others.")
    now = timezone.now()
    with transaction.atomic():
        revoked = set(ApiKey.objects.select_for_update()
                      .filter(pk__in=[key.pk for key in keys], revoked_at__isnull=True).values_list("pk", flat=True))
        ApiKey.objects.filter(pk__in=revoked).update(revoked_at=now)
        keys = [key for key in keys if key.pk in revoked]  # not those revoked meanwhile by someone else
        for key in keys:
            key.revoked_at = now
            audit.key_event(audit_events.KEY_REVOKED, key, actor=actor, via=via,
                            changes={"revoked_at": [None, now.isoformat()]})
    for key in keys:
        log.info("API key %s… of user %s revoked by %s via %s", key.prefix, key.user.get_username(), _name(actor),
                 via)
    return keys

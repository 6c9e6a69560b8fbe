"""Strict readers for settings that come from the environment.

Each helper refuses a malformed value with an error naming the variable and the value,
so a typo stops the process at start-up instead of silently falling back to a default.
"""
import base64
import ipaddress
import json
import os
import re
import secrets
import stat
import zoneinfo
from pathlib import Path


class ImproperlyConfiguredEnv(ValueError):
    pass


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected one of true/false/1/0/yes/no/on/off")


def env_int(name, default, minimum=None):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: must be at least {minimum}")
    return value


def env_float(name, default, minimum=None, maximum=None):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected a finite number")
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: must be at most {maximum}")
    return value


def env_list(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


_HOST_NAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$")


def env_hosts(name):
    """Comma-separated host names and IP networks (10.0.0.0/8, 192.168.1.5, [fd00::1]); anything else is refused."""
    items = env_list(name, [])
    for item in items:
        try:
            ipaddress.ip_network(item.strip("[]"), strict=False)
        except ValueError:
            if not _HOST_NAME.match(item):
                raise ImproperlyConfiguredEnv(f"{name}: {item!r} is neither a host name nor an IP network") from None
    return items


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")


def env_rate(name, default):
    """A request rate such as 1200/min (per s, min, h or day), or off for no limit (None)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in ("off", "none"):
        return None
    match = _RATE.match(raw)
    if not match or int(match.group(1)) < 1:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected a rate such as 1200/min (per s, min, h or day), "
                                      f"or off")
    return f"{int(match.group(1))}/{match.group(2)}"


def env_timezone(name):
    """An IANA zone name; by default the machine's own zone (what crontab users expect)."""
    raw = os.environ.get(name, "").strip()
    if raw:
        try:
            zoneinfo.ZoneInfo(raw)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ImproperlyConfiguredEnv(f"{name}={raw!r}: not a known IANA time zone") from None
        return raw
    return local_zone_name()


def local_zone_name():
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        try:
            zoneinfo.ZoneInfo(tz)
            return tz
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            zoneinfo.ZoneInfo(name)
            return name
    except (OSError, zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    try:
        name = Path("/etc/timezone").read_text().strip()
        zoneinfo.ZoneInfo(name)
        return name
    except (OSError, zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "UTC"


def env_name_values(name, *, valid_name, reserved=frozenset()) -> dict:
    """A JSON object of environment variable names to text, e.g. {"HTTPS_PROXY": "http://proxy:3128"}; empty
    if unset. Values are never echoed in an error: they may hold a proxy's password."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    example = '; expected a JSON object of names to text, such as {"HTTPS_PROXY": "http://proxy:3128"}'

    def no_duplicates(pairs):
        keys = [key for key, _value in pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ImproperlyConfiguredEnv(f"{name}: the name {repeated[0]!r} appears twice")
        return dict(pairs)

    try:
        value = json.loads(raw, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfiguredEnv(f"{name}: not valid JSON ({exc.msg} at column {exc.colno}){example}") from None
    if not isinstance(value, dict):
        raise ImproperlyConfiguredEnv(f"{name}: got a JSON {type(value).__name__}{example}")
    for key, item in value.items():
        if not valid_name(key):
            raise ImproperlyConfiguredEnv(f"{name}: {key!r} is not a valid environment variable name")
        if key.upper() in reserved:
            raise ImproperlyConfiguredEnv(f"{name}: {key!r} is set by the engine for every run")
        if not isinstance(item, str):
            raise ImproperlyConfiguredEnv(f"{name}: the value of {key!r} must be text (a JSON string)")
        if "\x00" in item:
            raise ImproperlyConfiguredEnv(f"{name}: the value of {key!r} must not contain a NUL character")
    return value


def env_path(name, default: Path, base: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    path = Path(raw) if raw else default
    if not path.is_absolute():
        path = base / path
    return path.resolve()


def env_fernet_keys(name) -> list[str]:
    """Comma-separated Fernet keys (newest first), each 32 bytes in URL-safe base64; empty: none."""
    keys = [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]
    for index, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            # The key itself is not shown: it is a secret.
            raise ImproperlyConfiguredEnv(f"{name}: key {index} of {len(keys)} is not a Fernet key (32 bytes in "
                                          "URL-safe base64, as `manage.py rotate_secrets_key --generate` prints)")
    if len(set(keys)) != len(keys):
        raise ImproperlyConfiguredEnv(f"{name}: a key appears twice")
    return keys


def secret_key(base_dir: Path) -> str:
    """DJANGO_SECRET_KEY, or for development a random key kept in a git-ignored 0600 file."""
    raw = os.environ.get("DJANGO_SECRET_KEY", "")
    if raw:
        if len(raw) < 32:
            raise ImproperlyConfiguredEnv("DJANGO_SECRET_KEY: must be at least 32 characters")
        return raw
    key_file = base_dir / ".secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:  # the web server and the scheduler start together: the other one won
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


# Resource limits of a run: SCHEDULER_LIMITS (the defaults) and a task's task_limits use the same names and values.
LIMIT_NAMES = ("memory", "cpu", "processes", "file_size", "open_files")
SIZE_LIMITS = ("memory", "file_size")
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
_NO_LIMIT = ("none", "off", "unlimited")


def limit_value(name, raw, where):
    """One limit's value: a whole number (bytes for memory and file_size, which may end in K, M, G or T,
    binary units; seconds for cpu; a count for processes and open_files), or none / off / unlimited (None).
    ValueError naming `where`, the limit and the value otherwise."""
    if name not in LIMIT_NAMES:
        raise ValueError(f"{where}: unknown limit {name!r} (known: {', '.join(LIMIT_NAMES)})")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError(f"{where}: {name} {raw!r}: expected a whole number or a text such as '512M'")
    text = str(raw).strip()
    if text.lower() in _NO_LIMIT:
        return None
    number, unit = text, ""
    if name in SIZE_LIMITS:
        upper = text.upper().removesuffix("B").removesuffix("I")
        if upper[-1:] in _UNITS:
            number, unit = upper[:-1].strip(), upper[-1]
    if not number.isdigit():
        hint = "a number of bytes, optionally with K, M, G or T" if name in SIZE_LIMITS else "a whole number"
        raise ValueError(f"{where}: {name} {raw!r}: expected {hint}, or none")
    value = int(number) * _UNITS[unit]
    if value < 1:
        raise ValueError(f"{where}: {name} {raw!r}: must be at least 1 (none for no limit)")
    return value


def parse_limits(text, where):
    """"memory=512M,cpu=3600" -> {"memory": 536870912, "cpu": 3600}; ValueError naming `where` otherwise."""
    limits = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"{where}: {item!r}: expected name=value, e.g. memory=512M")
        name = name.strip()
        if name in limits:
            raise ValueError(f"{where}: {name} is given twice")
        limits[name] = limit_value(name, raw.strip(), where)
    return limits


def env_limits(name, default):
    """SCHEDULER_LIMITS: the default limits of every run, merged over `default` (name -> value or None)."""
    raw = os.environ.get(name)
    limits = dict(default)
    if raw is None or raw.strip() == "":
        return limits
    try:
        limits.update(parse_limits(raw, f"{name}={raw!r}"))
    except ValueError as exc:
        raise ImproperlyConfiguredEnv(str(exc)) from None
    return limits


def env_choice(name, default, choices):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected one of {', '.join(choices)}")
    return value


def env_token(name, minimum_length):
    """A shared secret such as a bearer token: empty (none), or at least `minimum_length` printable ASCII
    characters, so that it can be sent in a header and cannot be guessed."""
    raw = os.environ.get(name, "")
    if raw == "":
        return ""
    if len(raw) < minimum_length or not all("!" <= c <= "~" for c in raw):
        # The value is a secret: the message names the variable and says what is wrong, never the value.
        raise ImproperlyConfiguredEnv(f"{name}: expected at least {minimum_length} printable ASCII characters "
                                      f"without spaces (got {len(raw)} characters)")
    return raw


def env_run_as(name):
    """`user` or `user:group` (resolved when the scheduler starts), or "" for the scheduler's own user."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ""
    user, sep, group = raw.partition(":")
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    if not user or (sep and not group) or not set(user + group) <= allowed or raw.count(":") > 1:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected a user name, or user:group")
    return raw


def env_executable(name):
    """An absolute path to an executable file, or "" when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ""
    if not os.path.isabs(raw) or not os.path.isfile(raw) or not os.access(raw, os.X_OK):
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected the absolute path of an executable file")
    return raw


def env_alert_rules(name, problems) -> dict:
    """A JSON object of alert rules (the keys of task_alerts), checked by `problems(value, name)`; empty if unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfiguredEnv(f"{name}: not valid JSON ({exc.msg} at column {exc.colno}); expected an "
                                      f"object such as {{\"failures_in_row\": 3}}") from None
    found = problems(value, name)
    if found:
        raise ImproperlyConfiguredEnv(f"{name}: {' '.join(found)}")
    return value


def env_delays(name, default) -> list[float]:
    """Comma-separated seconds, e.g. "30,120,600" (each at least 0): the waits before each retry."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return list(default)
    try:
        delays = [float(item) for item in raw.split(",") if item.strip()]
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: expected seconds separated by commas, such as 30,120,600") \
            from None
    if any(delay < 0 or delay != delay or delay == float("inf") for delay in delays):
        raise ImproperlyConfiguredEnv(f"{name}={raw!r}: each delay must be a finite number of seconds, at least 0")
    return delays

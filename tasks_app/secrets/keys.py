"""The keys that encrypt secrets, and sealing and opening a value with them (Fernet: AES in CBC mode with an
HMAC, the token carrying the time it was made).

The keys are never in the database or in conf/, so a copy of those (a backup, an export, a dump) holds tokens
nobody can read without the key: SCHEDULER_SECRETS_KEY (one or more keys, comma-separated, newest first), else
the key file (SCHEDULER_SECRETS_KEY_FILE, default .secrets_key, 0600, one key a line, newest first), made on
first use. The newest key seals; every key opens (MultiFernet), so a rotation can keep old tokens readable
until they are all sealed anew (manage.py rotate_secrets_key)."""
import os
import tempfile
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from tasks_app.private_files import FILE_MODE

from .masking import Masker
from .values import ENCRYPTED, ENV_FIELD, NOTIFY_FIELD, WEBHOOK_KEY, is_encrypted

ENVIRONMENT, FILE = "SCHEDULER_SECRETS_KEY", "key file"
_cache_lock = threading.Lock()
_cache = {}  # (source, what identifies its content) -> MultiFernet


class SecretUnreadable(ValueError):
    """A token none of the keys opens: sealed under a key that is gone, or not a token at all."""


def source() -> str:
    """Where the keys come from: the environment (SCHEDULER_SECRETS_KEY) or the key file."""
    return ENVIRONMENT if settings.SECRETS_KEYS else FILE


def key_file() -> Path:
    return Path(settings.SECRETS_KEY_FILE)


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def current_keys() -> list[str]:
    """The keys, newest first; the key file is made on first use."""
    if settings.SECRETS_KEYS:
        return list(settings.SECRETS_KEYS)
    return _read_key_file(create=True)


def _read_key_file(create=False) -> list[str]:
    path = key_file()
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        if not create:
            return []
        _create_key_file(path)
        text = path.read_text(encoding="ascii")
    keys = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise SecretUnreadable(f"the secrets key file {path} holds no key")
    return keys


def _create_key_file(path: Path) -> None:
    """Write a new key so that no process ever reads half a file, and the first of several processes starting
    together wins (the others read its key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secrets_key.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(_key_file_text([generate_key()]))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process made the file meanwhile: its key is the one
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def _key_file_text(keys) -> str:
    return ("# Secrets keys of the task scheduler, newest first. Without them the secrets stored in the database,\n"
            "# conf/tasks.json and its backups cannot be read: keep a copy apart from those.\n"
            + "".join(f"{key}\n" for key in keys))


def write_key_file(keys: list[str]) -> None:
    """Replace the key file by `keys` (newest first), atomically, mode 0600."""
    for key in keys:
        Fernet(key.encode("ascii"))  # refuse a malformed key before writing it
    path = key_file()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secrets_key.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(_key_file_text(keys))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def fernet() -> MultiFernet:
    """The keys as one MultiFernet (the newest seals, all open). The key file is read again when it changes, so
    a process that runs on sees a rotation done by manage.py rotate_secrets_key."""
    if settings.SECRETS_KEYS:
        marker = (ENVIRONMENT, tuple(settings.SECRETS_KEYS))
    else:
        path = key_file()
        try:
            st = path.stat()
            marker = (FILE, str(path), st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            marker = None
    with _cache_lock:
        found = _cache.get(marker) if marker else None
        if found is None:
            keys = current_keys()
            found = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
            if marker is None:  # the file was just made
                st = key_file().stat()
                marker = (FILE, str(key_file()), st.st_ino, st.st_mtime_ns, st.st_size)
            _cache.clear()
            _cache[marker] = found
    return found


def newest_only() -> Fernet:
    """The newest key alone: what opens everything once a rotation is complete."""
    return Fernet(current_keys()[0].encode("ascii"))


def seal_text(text: str) -> str:
    """A Fernet token of `text` under the newest key."""
    return fernet().encrypt(text.encode("utf-8")).decode("ascii")


def open_token(token: str) -> str:
    """The text a token holds. SecretUnreadable (which never holds the token or the text) if no key opens it."""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, AttributeError, TypeError):
        raise SecretUnreadable("cannot be decrypted with the secrets keys (SCHEDULER_SECRETS_KEY or the key "
                               "file): it was encrypted under another key, or it is not a token") from None


def seal(text: str, **extra) -> dict:
    """The stored form of a secret: {"encrypted": token} (plus what `extra` adds, such as a webhook's shown)."""
    return {ENCRYPTED: seal_text(text), **extra}


def open_secret(value: dict) -> str:
    """The text of a stored secret ({"encrypted": token}); SecretUnreadable if no key opens it."""
    return open_token(value[ENCRYPTED])


def reseal(value: dict) -> dict:
    """The same secret sealed anew under the newest key (a rotation); SecretUnreadable if no key opens it."""
    try:
        token = fernet().rotate(value[ENCRYPTED].encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, AttributeError, TypeError):
        raise SecretUnreadable("cannot be decrypted with the secrets keys") from None
    return {**value, ENCRYPTED: token}


def sealed_by_newest(value: dict) -> bool:
    """Whether the newest key alone opens a stored secret (nothing still needs an older key)."""
    try:
        newest_only().decrypt(value[ENCRYPTED].encode("ascii"))
    except (InvalidToken, UnicodeError, AttributeError, TypeError):
        return False
    return True


def open_env(env) -> tuple[dict, list[str]]:
    """task_env with its secrets opened, for a run's environment, and the secret texts, for masking what the run
    writes. SecretUnreadable (naming the key, never a value) if one cannot be opened: the run must not start
    without it."""
    plain, secrets = {}, []
    for key, value in (env or {}).items():
        if is_encrypted(value):
            try:
                value = open_secret(value)
            except SecretUnreadable as exc:
                raise SecretUnreadable(f"task_env value of {key!r} {exc}") from None
            secrets.append(value)
        plain[key] = value
    return plain, secrets


def secret_texts(env) -> list[str]:
    """The texts of task_env's secrets that can be opened, for masking (one that cannot is in no log anyway)."""
    found = []
    for value in (env or {}).values():
        if is_encrypted(value):
            try:
                found.append(open_secret(value))
            except SecretUnreadable:
                pass
    return found


def masker_for(env) -> Masker:
    """A masker of task_env's secrets (empty, and free, for a task without secrets)."""
    if not any(is_encrypted(value) for value in (env or {}).values()):
        return Masker([])
    return Masker(secret_texts(env))


def reseal_task(task: dict) -> tuple[dict, int, int]:
    """A task dict (a row's fields, a task of conf/tasks.json) with each stored secret sealed anew under the
    newest key: (task, secrets resealed, secrets no key opens: left as they are)."""
    out, done, lost = dict(task), 0, 0

    def again(value):
        nonlocal done, lost
        try:
            value = reseal(value)
            done += 1
        except SecretUnreadable:
            lost += 1
        return value

    env = out.get(ENV_FIELD)
    if isinstance(env, dict):
        out[ENV_FIELD] = {key: again(value) if is_encrypted(value) else value for key, value in env.items()}
    notify = out.get(NOTIFY_FIELD)
    if isinstance(notify, dict) and is_encrypted(notify.get(WEBHOOK_KEY)):
        out[NOTIFY_FIELD] = {**notify, WEBHOOK_KEY: again(notify[WEBHOOK_KEY])}
    return out, done, lost


def needs_older_key(task: dict) -> int:
    """How many stored secrets of a task dict the newest key alone does not open."""
    values = [v for v in (task.get(ENV_FIELD) or {}).values() if is_encrypted(v)] if isinstance(
        task.get(ENV_FIELD), dict) else []
    notify = task.get(NOTIFY_FIELD)
    if isinstance(notify, dict) and is_encrypted(notify.get(WEBHOOK_KEY)):
        values.append(notify[WEBHOOK_KEY])
    return sum(1 for value in values if not sealed_by_newest(value))

"""What the secrets tests look at: the raw database row, conf/tasks.json and its backups, as text."""
from django.conf import settings
from django.db import connection

from tasks_app.models import Task

TOKEN_START = "gAAAA"  # every Fernet token starts so (version byte 0x80 and a timestamp)


def raw_row(task_id) -> str:
    """The task's row as the database holds it, read with a cursor (no model, no decoding of ours)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Task._meta.db_table} WHERE task_id = %s", [task_id])
        return " ".join(str(column) for column in cursor.fetchone())


def conf_texts() -> dict:
    """{name: text} of conf/tasks.json and every backup."""
    conf = settings.CONF_DIR / "tasks.json"
    found = {"tasks.json": conf.read_text(encoding="utf-8")} if conf.exists() else {}
    if settings.BACKUPS_DIR.is_dir():
        found.update({p.name: p.read_text(encoding="utf-8") for p in sorted(settings.BACKUPS_DIR.iterdir())
                      if p.suffix == ".json"})
    return found


def assert_sealed(text: str, *plain: str):
    """`text` holds a Fernet token and none of the plain values."""
    assert TOKEN_START in text
    for value in plain:
        assert value not in text

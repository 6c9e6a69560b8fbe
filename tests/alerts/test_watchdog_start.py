"""The watchdog thread: started by the WSGI module (what a web server loads), once per process, not at all with
SCHEDULER_WATCH_INTERVAL=0."""
import subprocess
import sys

from tests.engine.conftest import ROOT


def test_a_web_process_starts_one_watchdog_and_a_command_none(tmp_path):
    probe = (
        "import threading, django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'scheduler_site.settings')\n"
        "django.setup()\n"
        "print('command:', sum(t.name == 'watchdog' for t in threading.enumerate()))\n"
        "import scheduler_site.wsgi\n"
        "from tasks_app.alerts import watchdog\n"
        "watchdog.start()\n"
        "print('web:', sum(t.name == 'watchdog' for t in threading.enumerate()))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "CONF_DIR": str(tmp_path), "LOGS_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "SCHEDULER_SECRETS_KEY_FILE": str(tmp_path / "k")}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert "command: 0" in out.stdout and "web: 1" in out.stdout, out.stdout + out.stderr

    off = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**env, "SCHEDULER_WATCH_INTERVAL": "0"},
                         capture_output=True, text=True, timeout=60)
    assert "web: 0" in off.stdout, off.stdout + off.stderr

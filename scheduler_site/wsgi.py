import os

from django.core.wsgi import get_wsgi_application

from tasks_app.private_files import use_private_umask

use_private_umask()  # whatever the web server's umask, the files it creates are private
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
application = get_wsgi_application()

# A web process watches the scheduler (its heartbeat, missed runs) and alerts when it is down: the one part of
# alerting that must not live in the scheduler. Started here, by the web server, never by manage.py commands.
from tasks_app.alerts import watchdog  # noqa: E402  (after the application: Django is set up)

watchdog.start()

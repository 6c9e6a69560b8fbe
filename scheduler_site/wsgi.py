import os

from django.core.wsgi import get_wsgi_application

from tasks_app.private_files import use_private_umask

use_private_umask()  # whatever the web server's umask, the files it creates are private
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
application = get_wsgi_application()

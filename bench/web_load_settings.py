"""The product's settings with bench/web_load_urls.py as the URL conf: what `serve` runs in bench/web_load.py."""
from scheduler_site.settings import *  # noqa: F401,F403

ROOT_URLCONF = "web_load_urls"

"""The product's settings with bench/web_ladder_urls.py as the URL conf: what bench/web_ladder.py measures."""
from scheduler_site.settings import *  # noqa: F401,F403

ROOT_URLCONF = "web_ladder_urls"

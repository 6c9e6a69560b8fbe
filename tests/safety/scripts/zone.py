"""Prints, as one JSON line, the zone its local time is in: time.tzname, time.timezone and the offset of
datetime.now().astimezone()."""
import json
import time
from datetime import datetime

print(json.dumps({"tzname": list(time.tzname), "timezone": time.timezone,
                  "offset": datetime.now().astimezone().utcoffset().total_seconds(),
                  "strftime": time.strftime("%Z")}))

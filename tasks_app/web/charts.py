"""The task page's chart of the last runs: bar heights are durations, colours are results.
Drawn as inline SVG on the server, so it needs no chart library and no script."""
from . import status

WIDTH, HEIGHT, GAP = 600, 120, 2


def duration_chart(executions):
    """executions: oldest first. Returns {"bars": [...], "max": seconds} or None when there is nothing to draw."""
    runs = [e for e in executions if e.status != "queued"]
    if not runs:
        return None
    longest = max((e.duration or 0) for e in runs) or 1.0
    slot = WIDTH / max(len(runs), 10)
    bars = []
    for i, e in enumerate(runs):
        seconds = e.duration or 0
        # A run without a duration (still running, lost) keeps a sliver so its colour shows.
        height = max(3.0, (seconds / longest) * (HEIGHT - 4))
        bars.append({
            "x": round(i * slot + GAP / 2, 1),
            "y": round(HEIGHT - height, 1),
            "width": round(max(slot - GAP, 1), 1),
            "height": round(height, 1),
            "colour": status.colour(e.status),
            "execution": e,
        })
    return {"bars": bars, "max": longest, "width": WIDTH, "height": HEIGHT, "count": len(runs)}

"""The dashboard's timeline as SVG markup, written here rather than in a template: a page of 25 tasks that run
every quarter hour has 2,500 bars, and Django's template engine takes seconds for that many elements where string
formatting takes milliseconds. Every value that comes from a task is escaped."""
from html import escape

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import status


def _n(value):
    return f"{value:.1f}"


def _duration(value, words) -> str:
    """A run's length in its tooltip: 0.42 s, 12.3 s, 4 min 5 s (`words`: the two translated forms)."""
    if value < 60:
        return words[0] % {"n": f"{value:.2f}" if value < 10 else f"{value:.1f}"}
    minutes, secs = divmod(int(round(value)), 60)
    return words[1] % {"m": minutes, "s": secs}


def render(line) -> str:
    """The <svg> of an insights.timeline.Timeline, in the page's language and time zone."""
    zone = timezone.get_current_timezone()
    words = {}
    out = [f'<svg class="timeline" id="timeline" viewBox="0 0 {_n(line.right + 10)} {_n(line.height)}" width="100%" '
           f'role="img" preserveAspectRatio="xMinYMin meet" aria-label="'
           f'{escape(_("Runs of the last 24 hours and slots of the next 24 hours, one row per task"))}">']
    for x, hour in line.hours():
        out.append(f'<line class="tl-grid" x1="{_n(x)}" x2="{_n(x)}" y1="14" y2="{_n(line.height)}"/>'
                   f'<text class="tl-hour" x="{_n(x)}" y="11" text-anchor="middle">'
                   f'{timezone.localtime(hour, zone).strftime("%H:%M")}</text>')
    next_word = escape(_("next run"))
    lengths = (_("%(n)s s"), _("%(m)d min %(s)d s"))
    for row in line.rows:
        task_id = escape(row.task_id)
        runs_url = reverse("execution_view", args=[row.task_id, 0])[:-1]  # ".../executions/" + id
        label = task_id if len(row.task_id) <= 28 else escape(row.task_id[:27]) + "…"
        out.append(f'<g class="tl-row" data-task-id="{task_id}"><a href="{escape(reverse("task_view", args=[row.task_id]))}">'
                   f'<text class="tl-label{"" if row.enabled else " tl-disabled"}" x="4" y="{_n(row.y + 13)}">'
                   f'{label}<title>{task_id} — {escape(row.task_name)}</title></text></a>')
        for bar in row.bars:
            word = words.get(bar.status) or words.setdefault(bar.status, escape(str(status.word(bar.status))))
            title = f"{task_id} #{bar.execution_id} · {word} · {timezone.localtime(bar.start, zone):%Y-%m-%d %H:%M:%S}"
            if bar.duration is not None:
                title += f" · {_duration(bar.duration, lengths)}"
            if bar.runs > 1:
                title += " · " + escape(ngettext("%(n)s run", "%(n)s runs", bar.runs) % {"n": bar.runs})
            out.append(f'<a href="{runs_url}{bar.execution_id}" class="tl-run" data-status="{bar.status}" '
                       f'data-execution-id="{bar.execution_id}"><rect x="{bar.x:.2f}" y="{_n(row.y + 3)}" '
                       f'width="{bar.width:.2f}" height="12" fill="{status.colour(bar.status)}"><title>{title}'
                       f'</title></rect></a>')
        for x, slot in row.marks:
            out.append(f'<rect class="tl-slot" x="{x:.2f}" y="{_n(row.y + 2)}" width="1.2" height="14"><title>'
                       f'{task_id} · {next_word} {timezone.localtime(slot, zone):%Y-%m-%d %H:%M}</title></rect>')
        if row.band:
            x, width, count = row.band
            words_band = escape(ngettext("more than %(n)s run in the next 24 hours",
                                         "more than %(n)s runs in the next 24 hours", count) % {"n": count - 1})
            out.append(f'<rect class="tl-band" x="{x:.2f}" y="{_n(row.y + 5)}" width="{width:.2f}" height="8">'
                       f'<title>{task_id} · {words_band}</title></rect>')
        out.append("</g>")
    out.append(f'<line class="tl-now" id="timeline-now" x1="{_n(line.now_x)}" x2="{_n(line.now_x)}" y1="14" '
               f'y2="{_n(line.height)}"/><text class="tl-now-label" x="{_n(line.now_x)}" y="22" '
               f'text-anchor="middle">{escape(_("now"))}</text></svg>')
    return mark_safe("".join(out))

"""The calendar pages (/calendars): everyone sees the custom business calendars and the month of any calendar,
built in or custom, with each excluded day and why; operators create, edit and delete custom ones."""
import datetime
import re

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from tasks_app import roles, workdays
from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import Calendar, Task, calendar_named
from tasks_app.services import calendars as calendar_services

from .access import RoleRequiredMixin, actor

RANGE_LINE = re.compile(r"^\s*(\S+)\s*\.\.\s*(\S+)\s*(.*)$")


def _lines(text: str) -> list:
    """Dates typed one a line or separated by commas or spaces."""
    return [item for item in re.split(r"[\s,，]+", text or "") if item]


def _range_lines(text: str) -> list:
    """"2025-12-20..2026-01-02 year-end freeze" a line -> range objects; a line that is not one is passed on as
    it is, for the service to name."""
    ranges = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        match = RANGE_LINE.match(line)
        ranges.append({"start": match[1], "end": match[2], "label": match[3].strip()} if match else line.strip())
    return ranges


class CalendarForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=64, help_text=gettext_lazy(
        "What tasks name in their calendar: letters, digits, '-' or '_'."))
    description = forms.CharField(label=gettext_lazy("Description"), required=False, max_length=500)
    base = forms.ChoiceField(label=gettext_lazy("Based on"), required=False, help_text=gettext_lazy(
        "Its days before the changes below; none: every day."))
    added_dates = forms.CharField(label=gettext_lazy("Days added"), required=False, widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": "2025-10-11"}), help_text=gettext_lazy(
        "Days that run whatever the base says: one date (yyyy-mm-dd) a line."))
    removed_dates = forms.CharField(label=gettext_lazy("Days removed"), required=False, widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": "2025-10-09"}), help_text=gettext_lazy(
        "Days that do not run: one date (yyyy-mm-dd) a line."))
    ranges = forms.CharField(label=gettext_lazy("Periods without runs"), required=False, widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": "2025-12-20..2026-01-02 year-end freeze"}), help_text=gettext_lazy(
        "Maintenance windows and freezes: first day..last day, then a label, one a line."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base"].choices = [("", _("(none: every day)"))] + [(n, n) for n in workdays.builtin_names()]

    def calendar_data(self) -> dict:
        data = self.cleaned_data
        return {"name": data["name"], "description": data["description"], "base": data["base"],
                "added_dates": _lines(data["added_dates"]), "removed_dates": _lines(data["removed_dates"]),
                "ranges": _range_lines(data["ranges"])}


def _initial(calendar) -> dict:
    return {"name": calendar.name, "description": calendar.description, "base": calendar.base,
            "added_dates": "\n".join(calendar.added_dates), "removed_dates": "\n".join(calendar.removed_dates),
            "ranges": "\n".join(f"{r['start']}..{r['end']} {r.get('label', '')}".rstrip() for r in calendar.ranges)}


def _calendar(name):
    calendar = Calendar.objects.filter(name=name).first()
    if calendar is None:
        raise Http404(_("No calendar named %(name)s.") % {"name": name})
    return calendar


class CalendarListView(RoleRequiredMixin, TemplateView):
    template_name = "calendars/list.html"

    def get_context_data(self, **kwargs):
        used = {}
        for task_id, name in Task.objects.exclude(task_calendar="").values_list("task_id", "task_calendar"):
            used.setdefault(name, []).append(task_id)
        rows = [(calendar, sorted(used.get(calendar.name, []))) for calendar in Calendar.objects.order_by("name")]
        builtin = [(name, sorted(used.get(name, []))) for name in workdays.builtin_names()[:3]]
        others = sorted((name, sorted(ids)) for name, ids in used.items()
                        if workdays.is_builtin(name) and name not in dict(builtin))
        return super().get_context_data(rows=rows, builtin=builtin + others, **kwargs)


class CalendarMonthView(RoleRequiredMixin, TemplateView):
    """A calendar's month (?month=2025-10; default this month): each day, whether tasks on it run, and why not."""
    template_name = "calendars/month.html"

    def get_context_data(self, name=None, **kwargs):
        rule = calendar_named(name)
        if rule is None:
            raise Http404(_("No calendar named %(name)s.") % {"name": name})
        today = timezone.localdate()
        try:
            first = datetime.date.fromisoformat(f"{self.request.GET.get('month', '')}-01")
        except ValueError:
            first = today.replace(day=1)
        if not 1900 <= first.year <= 9000:  # far enough for any schedule; date arithmetic overflows at 9999
            first = today.replace(day=1)
        following = (first + datetime.timedelta(days=32)).replace(day=1)
        days = calendar_services.days_between(name, first, following - datetime.timedelta(days=1))
        weeks, week = [], [None] * first.weekday()
        for day, verdict in days:
            week.append((day, verdict))
            if len(week) == 7:
                weeks.append(week)
                week = []
        if week:
            weeks.append(week + [None] * (7 - len(week)))
        previous = (first - datetime.timedelta(days=1)).replace(day=1)
        return super().get_context_data(
            name=name, calendar=Calendar.objects.filter(name=name).first(), weeks=weeks, first=first, today=today,
            previous=previous.strftime("%Y-%m"), following=following.strftime("%Y-%m"),
            excluded=[(day, verdict) for day, verdict in days if not verdict.runs],
            fallback=next((verdict.fallback for _day, verdict in days if verdict.fallback), ""),
            tasks=list(Task.objects.filter(task_calendar=name).values_list("task_id", flat=True)),
            weekday_names=[_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")], **kwargs)


class CalendarFormView(RoleRequiredMixin, View):
    required_role = roles.OPERATOR
    editing = False

    def get(self, request, name=None):
        calendar = _calendar(name) if self.editing else None
        return self._page(request, CalendarForm(initial=_initial(calendar) if calendar else {}), calendar)

    def post(self, request, name=None):
        calendar = _calendar(name) if self.editing else None
        form = CalendarForm(request.POST)
        if form.is_valid():
            try:
                if calendar is None:
                    calendar = calendar_services.create_calendar(form.calendar_data(), actor=actor(request),
                                                                  via="web")
                else:
                    calendar = calendar_services.update_calendar(calendar, form.calendar_data(),
                                                                  actor=actor(request), via="web")
            except TaskValidationError as exc:
                for field, problems in exc.errors.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                messages.success(request, _("Calendar %(name)s saved.") % {"name": calendar.name})
                return redirect("calendar_month", calendar.name)
        return self._page(request, form, calendar, status=400)

    def _page(self, request, form, calendar, status=200):
        return render(request, "calendars/form.html", {"form": form, "calendar": calendar}, status=status)


class CalendarDeleteView(RoleRequiredMixin, View):
    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def http_method_not_allowed(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, name):
        calendar = _calendar(name)
        try:
            calendar_services.delete_calendar(calendar, actor=actor(request), via="web")
        except TaskValidationError as exc:
            messages.error(request, " ".join(" ".join(problems) for problems in exc.errors.values()))
            return redirect("calendar_month", name)
        messages.success(request, _("Calendar %(name)s deleted.") % {"name": name})
        return redirect("calendar_list")

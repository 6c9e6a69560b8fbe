"""What the alerts of the ends of one round need to read, in one query (the engine ends tens of runs a second,
and three ORM queries per round were most of the alerts' cost): the open overrun incidents of those runs and
missed incidents of their tasks, the channels that exist, and the tasks' streaks as far as deciding whether an
end can change anything (outcomes._nothing_to_count)."""
from dataclasses import dataclass, field

from django.db import connection

from tasks_app.models import Channel, Incident, IncidentKind, TaskAlertState


# Typed, so that PostgreSQL can match the columns of the three parts of the UNION (SQLite takes them as they come).
NO_NUMBER, NO_TEXT = "CAST(NULL AS BIGINT)", "CAST(NULL AS VARCHAR(100))"


@dataclass
class EndFacts:
    open_incidents: list = field(default_factory=list)  # ids of the incidents the ends close
    channels: set = field(default_factory=set)  # names of the channels that exist
    default_channel: bool = False  # whether one of them is a default channel
    streaks: dict = field(default_factory=dict)  # task pk -> CleanStreak

    def reaches_a_channel(self, task) -> bool:
        """Whether an alert of `task` would go anywhere (outbox.channels_for finds a channel)."""
        named = list(task.task_channels or [])
        return any(name in self.channels for name in named) if named else self.default_channel


@dataclass(frozen=True)
class CleanStreak:
    last_execution_id: int | None
    last_outcome: str
    clean: bool  # no failure in a row, no failure alert, no failing_since: a success leaves it as it is


def read(ended, ran_task_pks, streak_task_pks) -> EndFacts:
    """`ended`: execution ids that ended (their overrun incidents close); `ran_task_pks`: tasks that ran (their
    missed incidents close); `streak_task_pks`: tasks whose streaks are wanted."""
    qn = connection.ops.quote_name
    incident, channel, state = (qn(m._meta.db_table) for m in (Incident, Channel, TaskAlertState))
    parts, params = [], []
    if ended:
        wanted = f"(kind = %s AND {qn('key')} IN ({', '.join(['%s'] * len(ended))}))"
        params += [IncidentKind.OVERRUN.value, *[str(pk) for pk in ended]]
        if ran_task_pks:
            wanted += f" OR (kind = %s AND task_id IN ({', '.join(['%s'] * len(ran_task_pks))}))"
            params += [IncidentKind.MISSED.value, *ran_task_pks]
        parts.append(f"SELECT 0, CAST(id AS BIGINT), {NO_NUMBER}, {NO_NUMBER}, {NO_TEXT} FROM {incident} "
                     f"WHERE resolved_at IS NULL AND ({wanted})")
    parts.append(f"SELECT 1, CAST(CASE WHEN is_default THEN 1 ELSE 0 END AS BIGINT), {NO_NUMBER}, {NO_NUMBER}, "
                 f"CAST(name AS VARCHAR(100)) FROM {channel}")
    if streak_task_pks:
        parts.append(
            f"SELECT 2, CAST(task_id AS BIGINT), CAST(last_execution_id AS BIGINT), CAST(CASE WHEN failures_in_row "
            f"= 0 AND NOT alerted AND failing_since IS NULL THEN 1 ELSE 0 END AS BIGINT), "
            f"CAST(last_outcome AS VARCHAR(100)) FROM {state} "
            f"WHERE task_id IN ({', '.join(['%s'] * len(streak_task_pks))})")
        params += list(streak_task_pks)
    facts = EndFacts()
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    for kind, number, last_id, clean, text in rows:
        if kind == 0:
            facts.open_incidents.append(number)
        elif kind == 1:
            facts.channels.add(text)
            facts.default_channel = facts.default_channel or bool(number)
        else:
            facts.streaks[number] = CleanStreak(last_id, text or "", bool(clean))
    return facts

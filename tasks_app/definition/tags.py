"""task_tags: short lowercase words that group tasks (the list's filter and cloud, the dashboard, the pause switch,
bulk actions). One rule for the loader, the filters and the bulk actions, with messages that name the value."""
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tasks_app import params

from .fields import MAX_TAGS, TAG_PATTERN
from .shown import kind_of, show


# What a tag must be, for the filters' messages (params.word).
TAG_RULE = _("a tag: 1 to 32 lowercase letters, digits, '-' or '_', such as \"nightly\"")


def tag_param(query, name="tag"):
    """?tag= read strictly: the tag, lowercased, or None; params.ParamError naming the parameter otherwise."""
    return params.word(query, name, TAG_PATTERN, TAG_RULE)


def tag_problem(tag) -> str | None:
    """Why `tag` (as given, before lowercasing) is not a tag, or None."""
    if not isinstance(tag, str):
        return str(_("task_tags item %(value)s must be text, got %(kind)s.")
                   % {"value": show(tag), "kind": kind_of(tag)})
    if not re.fullmatch(TAG_PATTERN, tag.strip().lower()):
        return str(_("task_tags item %(value)s is not a tag: use 1 to 32 lowercase letters, digits, '-' or '_', "
                     "starting with a letter or a digit, such as \"nightly\".") % {"value": show(tag)})
    return None


def normal_tag(tag: str) -> str:
    """A tag as stored: trimmed and lowercased ("Nightly " -> "nightly"). ValidationError if it is not one."""
    problem = tag_problem(tag)
    if problem:
        raise ValidationError(problem)
    return tag.strip().lower()


def clean_tags(value) -> list:
    """task_tags as stored: a list of tags, lowercased, each once, in the order given."""
    if not isinstance(value, list):
        raise ValidationError(_("task_tags must be a list of tags such as [\"nightly\", \"billing\"], got %(kind)s "
                                "%(value)s."), params={"kind": kind_of(value), "value": show(value)})
    problems, out = [], []
    for item in value:
        problem = tag_problem(item)
        if problem:
            problems.append(problem)
        elif item.strip().lower() not in out:
            out.append(item.strip().lower())
    if len(out) > MAX_TAGS:
        problems.append(str(_("task_tags has %(count)d tags; at most %(limit)d are allowed.")
                            % {"count": len(out), "limit": MAX_TAGS}))
    if problems:
        raise ValidationError(problems)
    return out


def split_tags(text: str) -> list:
    """Tags typed in one box, separated by commas or spaces ("nightly, billing" -> ["nightly", "billing"])."""
    return [part for part in re.split(r"[,\s，、]+", text or "") if part]

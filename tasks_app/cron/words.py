"""A cron expression in words, in English or Chinese (cron-descriptor, corrected where it misreads cronie)."""

from __future__ import annotations

import functools
import re

from cron_descriptor import CasingTypeEnum, ExpressionDescriptor, Options

from .expression import _DAYS, _FIELDS, _Field, _Schedule, _schedule

_ZH_NAMES = dict(
    zip(
        "Sunday Monday Tuesday Wednesday Thursday Friday Saturday January February March April May June July "
        "August September October November December".split(),
        "星期日 星期一 星期二 星期三 星期四 星期五 星期六 一月 二月 三月 四月 五月 六月 七月 八月 九月 十月 十一月 十二月".split(),
    )
)
_ZH_NAME_RE = re.compile(r"\b(" + "|".join(_ZH_NAMES) + r")\b")
# (joins "either day" clauses, the "only" word to drop from the day-of-week clause after it)
_EITHER_DAY = {"en_US": (", or ", "only "), "zh_CN": (", 或", "仅")}


def _descriptor_locale(lang: str | None) -> str:
    code = (lang or "en").lower().replace("_", "-")
    return "zh_CN" if code == "zh" or code.startswith("zh-") else "en_US"


def _descriptor_field(field: _Field, text: str) -> str:
    # cron-descriptor misreads some forms cronie accepts: give it numbers, `5` for `5-5`, and `5-7` for `fri-sun`.
    if field.names:
        text = re.sub(r"[A-Za-z]+", lambda m: str(field.names[m.group().lower()]), text)
    text = re.sub(r"\b(\d+)-(\d+)(/\d+)?", lambda m: m[1] if int(m[1]) == int(m[2]) else m[0], text)
    if field.names is _DAYS:
        text = re.sub(r"(?<=\d)-0+\b", "-7", text)
    return text


def describe(expr: str, lang: str | None = "en") -> str:
    """The expression in words, in English or (for zh, zh-hans, zh-cn, zh_CN) Chinese; raises CronError."""
    normalized, schedule = _schedule(expr)
    return _describe(normalized, schedule, _descriptor_locale(lang))


@functools.lru_cache(maxsize=1024)
def _describe(normalized: str, schedule: _Schedule, locale_code: str) -> str:
    options = Options()
    options.locale_code = locale_code
    options.use_24hour_time_format = True
    options.day_of_week_start_index_zero = True
    try:
        descriptor = ExpressionDescriptor(
            " ".join(_descriptor_field(f, w) for f, w in zip(_FIELDS, schedule.fields)), options
        )
        if schedule.either_day:
            # cron-descriptor says "on day 13, only on Friday"; cron fires on either, so say "or".
            joiner, only = _EITHER_DAY[locale_code]
            weekday = descriptor.get_day_of_week_description().removeprefix(", ").replace(only, "", 1)
            text = ExpressionDescriptor.transform_case(
                descriptor.get_time_of_day_description()
                + descriptor.get_day_of_month_description()
                + joiner
                + weekday
                + descriptor.get_month_description(),
                CasingTypeEnum.Sentence,
            )
        else:
            text = descriptor.get_description()
    except Exception:  # a valid schedule cron-descriptor cannot put in words still shows, as written
        return normalized
    if locale_code == "zh_CN":  # cron-descriptor takes day and month names from the process locale (English)
        text = _ZH_NAME_RE.sub(lambda m: _ZH_NAMES[m[1]], text)
    return text


"""Mapping schedules: the YAML forms, their checks, and `compile_schedule` → `reverseETLSchedule`.

Owns what a schedule may say (Segment's periodic intervals, weekdays and hours, IANA timezones,
5-field cron at most every 15 minutes, the dbt Cloud job whose runs trigger a sync) and its compiled Public API shape. Must never consult the
clock or the network: every check is a pure function of the text.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator
from pydantic_core import PydanticCustomError

INTERVALS = ("15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
DAY_NUMBERS = {
    "sun": 0,
    "mon": 1,
    "tue": 2,
    "wed": 3,
    "thu": 4,
    "fri": 5,
    "sat": 6,
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
MIN_GAP_MINUTES = 15


def check_timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo

    if not isinstance(value, str) or not value:
        raise PydanticCustomError("schedule.timezone", "timezone must be an IANA name such as UTC")
    try:
        ZoneInfo(value)
    except Exception:  # ZoneInfo raises several kinds for bad keys (ValueError, KeyError, OSError)
        raise PydanticCustomError(
            "schedule.timezone",
            "unknown timezone `{tz}`; use an IANA name such as Europe/Berlin",
            {"tz": value},
        ) from None
    return value


class _Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class EverySchedule(_Schedule):
    """`{every: 1h}`: a periodic sync at one of Segment's intervals."""

    every: str = Field(json_schema_extra={"enum": list(INTERVALS)})

    @field_validator("every", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> str:
        if not isinstance(value, str) or value not in INTERVALS:
            raise PydanticCustomError(
                "schedule.interval",
                "interval `{value}` is not one of Segment's: {allowed}",
                {"value": value, "allowed": ", ".join(INTERVALS)},
            )
        return value


class DaysSchedule(_Schedule):
    """`{days: [mon, fri], hours: [6, 18], timezone: UTC}`: chosen weekdays at chosen hours."""

    days: list[str] = Field(
        json_schema_extra={"items": {"enum": list(DAY_NUMBERS)}, "minItems": 1, "maxItems": 7}
    )
    hours: list[int] = Field(
        json_schema_extra={"items": {"type": "integer", "minimum": 0, "maximum": 23}, "minItems": 1}
    )
    timezone: str = "UTC"

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[str]:
        if not isinstance(value, list) or not value:
            raise PydanticCustomError("schedule.days", "`days` must list at least one weekday (sun … sat)")
        out: list[str] = []
        for day in value:
            if not isinstance(day, str) or day.lower() not in DAY_NUMBERS:
                raise PydanticCustomError(
                    "schedule.days",
                    "`{day}` is not a weekday; use sun, mon, tue, wed, thu, fri, sat",
                    {"day": day},
                )
            out.append(day.lower())
        return out

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> list[int]:
        if not isinstance(value, list) or not value:
            raise PydanticCustomError("schedule.hours", "`hours` must list at least one hour (0–23)")
        for hour in value:
            if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
                raise PydanticCustomError("schedule.hours", "hour `{hour}` is not in 0–23", {"hour": hour})
        return value

    @field_validator("timezone", mode="before")
    @classmethod
    def _tz(cls, value: Any) -> str:
        return check_timezone(value)


class CronSchedule(_Schedule):
    """`{cron: "0 */6 * * *", timezone: UTC}`: a 5-field cron spec firing at most every 15 minutes."""

    cron: str
    timezone: str = "UTC"

    @field_validator("cron", mode="before")
    @classmethod
    def _cron(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise PydanticCustomError("schedule.cron", "`cron` must be a 5-field cron string")
        check_cron(value)
        return " ".join(value.split())

    @field_validator("timezone", mode="before")
    @classmethod
    def _tz(cls, value: Any) -> str:
        return check_timezone(value)


class DbtCloudJob(_Schedule):
    """The dbt Cloud job whose runs trigger the sync (ids as dbt Cloud shows them)."""

    account_id: str
    job_id: str

    @field_validator("account_id", "job_id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> str:
        # dbt Cloud ids are numbers; YAML reads 123 as an int, Segment takes the id as text
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise PydanticCustomError("schedule.dbt_cloud", "dbt Cloud ids are numbers such as 12345")
        return str(value).strip()


class DbtCloudSchedule(_Schedule):
    """`{dbt_cloud: {account_id: 1, job_id: 2}}`: sync after each run of a dbt Cloud job."""

    dbt_cloud: DbtCloudJob


def _schedule_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "manual"
    if isinstance(value, (dict, BaseModel)):
        keys = value.keys() if isinstance(value, dict) else type(value).model_fields.keys()
        for key in ("every", "days", "cron", "dbt_cloud"):
            if key in keys:
                return key
        if isinstance(value, dict) and "hours" in value:
            return "days"
    return None


Schedule = Annotated[
    Annotated[Literal["manual"], Tag("manual")]
    | Annotated[EverySchedule, Tag("every")]
    | Annotated[DaysSchedule, Tag("days")]
    | Annotated[CronSchedule, Tag("cron")]
    | Annotated[DbtCloudSchedule, Tag("dbt_cloud")],
    Discriminator(
        _schedule_tag,
        custom_error_type="schedule.invalid",
        custom_error_message="schedule must be `manual`, {every: …}, {days: …, hours: …}, {cron: …} "
        "or {dbt_cloud: …}",
    ),
]


def compile_schedule(schedule: Any) -> dict[str, Any]:
    """The subscription's `reverseETLSchedule` for a schedule value."""
    if schedule is None or schedule == "manual":
        return {"strategy": "MANUAL"}
    if isinstance(schedule, EverySchedule):
        return {"strategy": "PERIODIC", "config": {"interval": schedule.every}}
    if isinstance(schedule, DaysSchedule):
        days = sorted({DAY_NUMBERS[day] for day in schedule.days})
        return {
            "strategy": "SPECIFIC_DAYS",
            "config": {"days": days, "hours": sorted(set(schedule.hours)), "timezone": schedule.timezone},
        }
    if isinstance(schedule, CronSchedule):
        return {"strategy": "CRON", "config": {"spec": schedule.cron, "timezone": schedule.timezone}}
    if isinstance(schedule, DbtCloudSchedule):
        job = schedule.dbt_cloud
        return {"strategy": "DBT_CLOUD", "config": {"jobId": job.job_id, "accountId": job.account_id}}
    raise TypeError(f"not a schedule: {type(schedule).__name__}")


# --- cron -----------------------------------------------------------------------------------

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DOWS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DOWS),
)
_ATOM = re.compile(r"^(\*|[0-9a-z]+(-[0-9a-z]+)?)(/([0-9]+))?$")


def _cron_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("schedule.cron", message)


def _value(text: str, low: int, high: int, names: list[str] | None, label: str) -> int:
    if names and text in names:
        return names.index(text) + (1 if label == "month" else 0)
    if not text.isdigit():
        raise _cron_error(f"`{text}` is not a valid {label}")
    number = int(text)
    if not low <= number <= high:
        raise _cron_error(f"{label} {number} is out of range {low}–{high}")
    return number


def _expand(field: str, low: int, high: int, names: list[str] | None, label: str) -> set[int]:
    values: set[int] = set()
    for part in field.lower().split(","):
        match = _ATOM.match(part)
        if not match:
            raise _cron_error(f"`{part}` is not a valid {label} field")
        base, step_text = match.group(1), match.group(4)
        step = int(step_text) if step_text else 1
        if step < 1:
            raise _cron_error(f"step 0 in {label} field")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, low, high, names, label), _value(last, low, high, names, label)
            if end < start:
                raise _cron_error(f"range `{base}` in {label} field runs backwards")
        else:
            start = _value(base, low, high, names, label)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    if label == "day of week" and 7 in values:
        values.discard(7)
        values.add(0)
    return values


def check_cron(spec: str) -> None:
    """Raise `schedule.cron` unless `spec` is 5 valid fields firing at most every 15 minutes."""
    parts = spec.split()
    if len(parts) != 5:
        raise _cron_error(f"cron needs 5 fields (minute hour day month weekday), got {len(parts)}")
    sets = [
        _expand(part, low, high, names, label)
        for part, (label, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    minutes, hours, doms, months, dows = sets
    times = sorted(hour * 60 + minute for hour in hours for minute in minutes)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # the gap across midnight only counts when two consecutive days can both fire
    consecutive_days = (
        (parts[2] == "*" and parts[4] == "*")
        or any((day + 1) % 7 in dows for day in dows)
        or (parts[4] == "*" and any(day + 1 in doms for day in doms))
    )
    if consecutive_days and times:
        gaps.append(times[0] + 1440 - times[-1])
    if not months:
        raise _cron_error("cron never fires")
    if gaps and min(gaps) < MIN_GAP_MINUTES:
        raise PydanticCustomError(
            "schedule.cron_too_frequent",
            "cron `{spec}` fires every {gap} minute(s); Segment syncs at most every 15 minutes",
            {"spec": spec, "gap": min(gaps)},
        )

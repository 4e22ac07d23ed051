"""Conversions shared by the generated models and the client."""

from __future__ import annotations

import datetime
import re
from typing import Any

# RFC 3339 as Go writes it: fractions of up to nine digits, Z or an offset.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)


def parse_time(value: str) -> datetime.datetime:
    """Parses an RFC 3339 timestamp into an aware datetime (UTC when it has no offset).

    Unlike ``datetime.fromisoformat`` on Python 3.10, it accepts ``Z`` and the
    nanosecond fractions Go writes (truncated to microseconds).
    """
    m = _RFC3339.match(value)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    tz = datetime.timezone.utc
    if m.group(9):
        offset = datetime.timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        tz = datetime.timezone(-offset if m.group(9) == "-" else offset)
    return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def format_time(value: datetime.datetime) -> str:
    """Formats a datetime as RFC 3339 (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def require(d: dict[str, Any], key: str, schema: str) -> Any:
    """d[key], or a ValueError naming the schema and the missing field."""
    try:
        return d[key]
    except KeyError:
        raise ValueError(f"{schema}: the server's answer has no {key!r}") from None
    except TypeError:
        raise ValueError(f"{schema}: expected a JSON object, got {type(d).__name__}") from None


def parse_retry_after(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date); None if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - now).total_seconds())

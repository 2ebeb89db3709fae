"""Due dates as people type them (`by Friday`, `by Dec 4`), read in the asker's timezone."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.errors import UserError
from bot.text import safe_mrkdwn

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
# A month-and-day without a year that passed less than this long ago is a mistake, not
# next year's date.
RECENT = timedelta(days=60)

_DATE_WORDS = {"today", "tonight", "tomorrow", "eod", "eow", "cob", "end", "next", "this", "in"}
_UNITS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_TEENS = "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth"
_TEENS += " eighteenth nineteenth"
# "first" to "thirty-first", as words: the day of the month they name.
ORDINALS = {
    **{word: n for n, word in enumerate(_UNITS, start=1)},
    **{word: n for n, word in enumerate(_TEENS.split(), start=10)},
    "twentieth": 20,
    **{f"twenty{word}": 20 + n for n, word in enumerate(_UNITS, start=1)},
    "thirtieth": 30,
    "thirtyfirst": 31,
}
_BY = re.compile(r"\s+by\s+(?P<when>[^\n]{1,40})$", re.IGNORECASE)


def split_due(text: str) -> tuple[str, str | None]:
    """Split `request ... by <when>` into the request and the `when` phrase, if any.

    A trailing `by ...` that does not look like a date ("by marketing") stays in the request.
    """
    match = _BY.search(text)
    if not match or not _looks_like_date(match.group("when")):
        return text.strip(), None
    return text[: match.start()].strip(), match.group("when").strip()


def _looks_like_date(when: str) -> bool:
    """Digits, a day or month name or an ordinal anywhere, or a first word such as
    "tomorrow", "next" or "in": a date, even one that cannot be read (and is then
    explained, not taken as words)."""
    words = [re.sub(r"[^a-z0-9]", "", word) for word in when.lower().split()]
    return (
        any(c.isdigit() for c in when)
        or bool(words and words[0] in _DATE_WORDS)
        or any(
            _weekday(word) is not None or _month(word) is not None or word in ORDINALS
            for word in words
        )
    )


def parse_due(phrase: str, now: datetime, zone: ZoneInfo) -> date:
    """The local date a phrase means, seen from `now` in `zone`. Raises UserError."""
    today = now.astimezone(zone).date()
    words = re.sub(r"[.,!]+$", "", phrase.strip().lower())
    words = re.sub(r"\s+", " ", words)
    found = _parse(words, today)
    if found is None:
        raise UserError(
            f'I couldn\'t read "{safe_mrkdwn(phrase)}" as a date. Try `by Friday`, `by tomorrow`, '
            "`by Dec 4`, `by the 12th`, `by 2026-12-04` or `by EOD`. If it isn't a date, "
            'say it without "by".'
        )
    if found < today:
        raise UserError(f"{found:%A %-d %B %Y} has already passed. When do you need it by?")
    return found


def _parse(words: str, today: date) -> date | None:
    if words in ("today", "tonight", "eod", "end of day", "end of the day", "cob"):
        return today
    if words == "tomorrow":
        return today + timedelta(days=1)
    if words in ("eow", "end of week", "end of the week", "this week"):
        return today + timedelta(days=(4 - today.weekday()) % 7)
    if words in ("next week",):
        return today + timedelta(days=7 - today.weekday())
    if match := re.fullmatch(r"in (\d{1,3}) (day|week)s?", words):
        n = int(match.group(1))
        return today + timedelta(days=n * (7 if match.group(2) == "week" else 1))
    if match := re.fullmatch(r"(next |this )?([a-z]+)", words):
        day = _weekday(match.group(2))
        if day is not None:
            ahead = (day - today.weekday()) % 7
            if match.group(1) == "next ":
                ahead += 7 if ahead == 0 or day > today.weekday() else 0
            return today + timedelta(days=ahead)
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", words):
        return _date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if match := re.fullmatch(r"(?:the )?(\d{1,2})(?:st|nd|rd|th)|(?:the )?([a-z-]+)", words):
        day_of_month = int(match.group(1)) if match.group(1) else None
        if match.group(2):
            day_of_month = ORDINALS.get(match.group(2).replace("-", ""))
        if day_of_month is not None:
            return _next_day_of_month(today, day_of_month)
    month_day = re.fullmatch(r"([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)?(?:,? (\d{4}))?", words)
    day_month = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)? ([a-z]+)\.?(?:,? (\d{4}))?", words)
    if month_day or day_month:
        if month_day:
            month_word, day_text, year_text = month_day.groups()
        else:
            assert day_month
            day_text, month_word, year_text = day_month.groups()
        month = _month(month_word)
        if month is None:
            return None
        if year_text:
            return _date(int(year_text), month, int(day_text))
        found = _date(today.year, month, int(day_text))
        if found is not None and found < today - RECENT:
            found = _date(today.year + 1, month, int(day_text))
        return found
    return None


def _next_day_of_month(today: date, day: int) -> date | None:
    """ "The 12th": this month's if it is still to come, else the next month that has it."""
    year, month = today.year, today.month
    for _ in range(3):
        found = _date(year, month, day)
        if found is not None and found >= today:
            return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _weekday(word: str) -> int | None:
    for index, name in enumerate(WEEKDAY_NAMES):
        if len(word) >= 3 and name.startswith(word):
            return index
    return None


def _month(word: str) -> int | None:
    for index, name in enumerate(MONTH_NAMES, start=1):
        if len(word) >= 3 and name.startswith(word):
            return index
    return None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None

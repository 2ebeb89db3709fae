"""What is counted, and how: each Web API attempt by method and result, a tick's duration
and lag, and the one /metrics path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.error import URLError

import pytest
from prometheus_client import REGISTRY
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from sqlalchemy.exc import OperationalError

from bot import metrics
from bot.jobs import scheduler
from bot.jobs.scheduler import INTERVAL_SECONDS, TimedTick
from bot.slack.client import CALL_METER

URL = "https://slack.com/api/"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counted(action: Callable[[], Any], name: str, **labels: str) -> float:
    """How much `action` moved one sample."""
    before = value(name, **labels)
    action()
    return value(name, **labels) - before


def attempt(url: str, response: HttpResponse | None = None, error: Exception | None = None) -> bool:
    request = HttpRequest(method="POST", url=url, headers={})
    return CALL_METER.can_retry(state=RetryState(), request=request, response=response, error=error)


def answer(status: int, **body: Any) -> HttpResponse:
    return HttpResponse(status_code=status, headers={}, body=body or None)


@pytest.mark.parametrize(
    ("response", "error", "result"),
    [
        (answer(200, ok=True), None, "ok"),
        (answer(200, ok=False, error="not_in_channel"), None, "slack_error"),
        (answer(200, ok=False, error="ratelimited"), None, "ratelimited"),
        (answer(429), None, "ratelimited"),
        (answer(503), None, "server_error"),
        (answer(404), None, "slack_error"),
        (None, TimeoutError("read timed out"), "timeout"),
        (None, URLError(TimeoutError("timed out")), "timeout"),
        (None, URLError(ConnectionRefusedError(111, "refused")), "connection_error"),
        (None, ConnectionResetError(104, "reset"), "connection_error"),
    ],
)
def test_each_web_api_attempt_is_counted_by_method_and_result(
    response: HttpResponse | None, error: Exception | None, result: str
) -> None:
    name = "advocate_slack_api_calls_total"
    retries: list[bool] = []

    def call() -> None:
        retries.append(attempt(URL + "chat.postMessage", response, error))

    assert counted(call, name, method="chat.postMessage", result=result) == 1
    assert retries == [False]  # it only counts; the rate-limit handler decides on retries


def test_a_url_that_is_not_a_method_name_is_counted_as_other() -> None:
    ok = answer(200, ok=True)
    for url in (URL + "U111%20hello", URL + "chat.postMessage?channel=C1", URL):
        method = "chat.postMessage" if "?" in url else "other"

        def call(url: str = url) -> None:
            attempt(url, ok)

        assert counted(call, "advocate_slack_api_calls_total", method=method, result="ok") == 1


def test_a_tick_on_time_has_no_lag_and_a_late_one_says_how_late(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduler, "tick", lambda runtime: None)
    now = datetime.now(UTC)
    late = TimedTick(None, now - timedelta(seconds=20))  # type: ignore[arg-type]
    lag_sum = "advocate_scheduler_tick_lag_seconds_sum"
    lag = counted(late, lag_sum)
    assert 20 <= lag < 25
    # It served the due time it passed: the next is the first one after now.
    assert late.due == now - timedelta(seconds=20) + timedelta(seconds=2 * INTERVAL_SECONDS)
    on_time = TimedTick(None, datetime.now(UTC) + timedelta(seconds=1))  # type: ignore[arg-type]
    assert counted(on_time, lag_sum) == 0
    assert counted(on_time, "advocate_scheduler_tick_seconds_count") == 1


def test_a_failed_tick_is_counted_and_survived(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(runtime: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("database is down"))

    monkeypatch.setattr(scheduler, "tick", fail)
    timed = TimedTick(None, datetime.now(UTC))  # type: ignore[arg-type]
    errors = "advocate_database_errors_total"
    assert counted(timed, errors, where="tick") == 1
    assert counted(timed, "advocate_scheduler_tick_seconds_count") == 1


def test_only_the_metrics_path_is_served() -> None:
    app = metrics.wsgi_app(REGISTRY)
    answers: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answers.append(status)

    body = b"".join(app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"}, start_response))
    assert answers == ["200 OK"] and b"advocate_requests_received_total" in body
    app({"PATH_INFO": "/", "REQUEST_METHOD": "GET"}, start_response)
    assert answers[-1] == "404 Not Found"

"""Where listeners run: the answer first, the work after it, a bounded backlog, a clean end."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from slack_bolt import Ack

from bot.listeners import work as work_module
from bot.listeners.work import Inline, Work


def test_slack_is_answered_before_the_work_starts() -> None:
    work = Work(workers=2)
    started = threading.Event()
    release = threading.Event()
    seen: list[str] = []

    def listener(ack: Ack) -> None:
        started.set()
        release.wait(5)
        seen.append("done")

    ack = Ack()
    response = work.ack_first(listener)(ack=ack)
    assert response is not None and response.status == 200
    assert ack.response is response
    assert started.wait(2)
    assert seen == []
    release.set()
    work.drain()
    assert seen == ["done"]


def test_a_failure_after_the_answer_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[Exception] = []
    monkeypatch.setattr(
        "bot.listeners.errors.report", lambda error, body, client: reported.append(error)
    )
    work = Work(workers=1)

    def listener(ack: Ack, body: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    response = work.ack_first(listener)(ack=Ack(), body={"user_id": "U1"})
    work.drain()
    assert response is not None and response.status == 200
    assert [str(e) for e in reported] == ["boom"]


def test_drain_finishes_everything_that_was_answered() -> None:
    work = Work(workers=2)
    done: list[int] = []

    def listener(ack: Ack, n: int) -> None:
        time.sleep(0.01)
        done.append(n)

    for n in range(20):
        work.ack_first(listener)(ack=Ack(), n=n)
    work.drain()
    assert sorted(done) == list(range(20))


def test_a_full_backlog_slows_the_answer_down_but_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(work_module, "BACKLOG_WAIT_SECONDS", 0.3)
    work = Work(workers=1, backlog=1)
    release = threading.Event()
    done: list[int] = []

    def listener(ack: Ack, n: int) -> None:
        if n == 0:
            release.wait(5)
        done.append(n)

    run = work.ack_first(listener)
    started = time.monotonic()
    run(ack=Ack(), n=0)
    assert time.monotonic() - started < 0.2
    started = time.monotonic()
    run(ack=Ack(), n=1)  # no room: waits for it, then is queued anyway
    assert 0.25 < time.monotonic() - started < 2
    release.set()
    work.drain()
    assert done == [0, 1]


def test_room_comes_back_once_the_work_is_done() -> None:
    work = Work(workers=1, backlog=1)
    done: list[int] = []

    def listener(ack: Ack, n: int) -> None:
        done.append(n)

    run = work.ack_first(listener)
    for n in range(5):
        started = time.monotonic()
        run(ack=Ack(), n=n)
        assert time.monotonic() - started < 1
    work.drain()
    assert done == list(range(5))


def test_a_view_submission_answers_with_its_field_errors() -> None:
    work = Work()

    def listener(ack: Ack, view: dict[str, Any]) -> None:
        if not view.get("ok"):
            ack(response_action="errors", errors={"reason": "Say why."})
            return
        ack()

    response = work.until_ack(listener)(ack=Ack(), view={})
    assert response is not None
    assert response.status == 200
    assert '"response_action": "errors"' in response.body
    work.drain()


def test_a_view_submission_goes_on_working_after_its_answer() -> None:
    work = Work()
    release = threading.Event()
    done: list[str] = []

    def listener(ack: Ack) -> None:
        ack()
        release.wait(5)
        done.append("saved")

    started = time.monotonic()
    response = work.until_ack(listener)(ack=Ack())
    assert time.monotonic() - started < 1
    assert response is not None and response.status == 200
    assert done == []
    release.set()
    work.drain()
    assert done == ["saved"]


def test_a_view_submission_that_never_acks_is_answered_in_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(work_module, "ACK_WAIT_SECONDS", 0.2)
    work = Work()
    release = threading.Event()

    def listener(ack: Ack) -> None:
        release.wait(5)

    started = time.monotonic()
    response = work.until_ack(listener)(ack=Ack())
    assert time.monotonic() - started < 1
    assert response is None  # Bolt then answers with its plain 200
    release.set()
    work.drain()


def test_bolt_passes_the_listener_its_own_arguments_and_the_wrapper_ack_and_request() -> None:
    from slack_bolt.util.utils import get_arg_names_of_callable

    seen: list[dict[str, Any]] = []

    def listener(body: dict[str, Any]) -> None:
        seen.append({"body": body})

    work = Work(workers=1)
    wrapper = work.ack_first(listener)
    # What Bolt reads to decide which arguments to build for a listener.
    assert get_arg_names_of_callable(wrapper) == ["body", "ack", "request"]
    assert wrapper.__name__ == "listener"
    wrapper(body={"user_id": "U1"}, ack=Ack(), request=object())
    work.drain()
    assert seen == [{"body": {"user_id": "U1"}}]


def test_in_the_worker_process_a_listener_runs_on_the_thread_that_dispatched_it() -> None:
    threads: list[threading.Thread] = []

    def listener(ack: Ack) -> None:
        threads.append(threading.current_thread())

    response = Inline().ack_first(listener)(ack=Ack(), request=None)
    assert response is not None and response.status == 200
    assert threads == [threading.current_thread()]

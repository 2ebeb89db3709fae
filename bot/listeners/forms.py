"""Forms (modal submissions): checked once, before the modal closes; applied once, after.

A submission is checked on the request's thread, inside Slack's three seconds: a problem
goes back with the answer as field errors, and nothing is stored. A clean submission's
accepted values are stored with the request (bot/pipeline.py), and the modal closes. A
worker then applies what was accepted, and never checks it again: a commitment worked after
midnight, or a channel Slack could not vouch for in time, is saved as it was accepted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.domain import Workspace
from bot.listeners.common import metadata_of, tell, workspace_of
from bot.listeners.errors import guarded

log = logging.getLogger(__name__)

# Where the accepted values travel: from the check to the stored request, and from the
# stored request to the worker's listener.
ACCEPTED = "accepted"


class Refused(Exception):
    """A submission's problems, by the block they are shown under."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class Submission:
    """A view submission as its form sees it."""

    body: dict[str, Any]
    view: dict[str, Any]
    client: WebClient
    context: BoltContext

    @property
    def user_id(self) -> str:
        return str(self.body["user"]["id"])

    @property
    def workspace(self) -> Workspace:
        return workspace_of(self.context)

    @property
    def metadata(self) -> dict[str, Any]:
        return metadata_of(self.view)

    def value(self, block: str, key: str = "value") -> Any:
        """An input's value: `key` of the element under `block` (its action id is `value`)."""
        return ((self.view["state"]["values"].get(block) or {}).get("value") or {}).get(key)

    def text(self, block: str) -> str:
        return str(self.value(block) or "").strip()


@dataclass(frozen=True)
class Form:
    """`check` returns the values accepted (JSON) or raises Refused; `apply` does the
    work with them."""

    callback_id: str
    check: Callable[[Submission], dict[str, Any]]
    apply: Callable[[Submission, dict[str, Any]], None]


def check_on(app: App, forms: list[Form]) -> None:
    """The answering app: each form's check, its verdict the answer."""
    for form in forms:
        app.view(form.callback_id)(_checking(form))


def apply_on(app: App, forms: list[Form]) -> None:
    """The working app: each form applies what its check accepted."""
    for form in forms:
        app.view(form.callback_id)(guarded(_applying(form)))


def _checking(form: Form) -> Callable[..., None]:
    def check(
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        try:
            accepted = form.check(Submission(body, view, client, context))
        except Refused as refused:
            ack(response_action="errors", errors=refused.errors)
            return
        context[ACCEPTED] = json.dumps(accepted)
        ack()

    return check


def _applying(form: Form) -> Callable[..., None]:
    def apply(
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        submission = Submission(body, view, client, context)
        stored = context.get(ACCEPTED)
        if stored is not None:
            form.apply(submission, json.loads(stored))
            return
        # Stored before its check's verdict was kept (an upgrade): checked here, and a
        # problem told to the person rather than dropped, since the modal has closed.
        try:
            accepted = form.check(submission)
        except Refused as refused:
            log.warning("a %s stored unchecked was refused: %s", form.callback_id, refused)
            tell(client, " ".join(refused.errors.values()), user_id=submission.user_id)
            return
        form.apply(submission, accepted)

    return apply

"""Whether a conversation is private: a private channel, a group DM (mpim) or a DM.

Words said in one are quoted only there and to their own people (README, "Private stays
where it was said"). A channel's id does not tell (private channels have C ids too), so the
request's own payload is read where it says (a DM's D id; a slash command's `channel_name`,
which is "privategroup", "directmessage" or "mpdm-…" in private conversations), and Slack is
asked otherwise (`conversations.info`), remembered here for a few minutes. When Slack cannot
be asked, the conversation is taken as private: words are never quoted by mistake.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

PRIVATE_NAMES = frozenset({"privategroup", "directmessage"})
REMEMBERED_SECONDS = 300.0
MOST_REMEMBERED = 10_000
# What Slack answers about a conversation the app cannot see: a private one.
UNSEEN = frozenset({"channel_not_found", "not_in_channel"})


def said_by_payload(channel_id: str | None, name: str | None) -> bool | None:
    """True when the id or the channel's name in a payload says the conversation is
    private; None when they don't say (a public channel's name says nothing of a shortcut's)."""
    if channel_id and channel_id.startswith("D"):
        return True
    if name and (name in PRIVATE_NAMES or name.startswith("mpdm-")):
        return True
    return None


def is_private(info: Mapping[str, Any]) -> bool:
    """What `conversations.info` says of a conversation."""
    return bool(info.get("is_private") or info.get("is_im") or info.get("is_mpim"))


class Conversations:
    """Which conversations are private, per workspace, remembered for `REMEMBERED_SECONDS`
    (a channel made private is noticed within that) and at most `MOST_REMEMBERED` of them."""

    def __init__(
        self,
        remembered: float = REMEMBERED_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.remembered = remembered
        self.clock = clock
        self._known: OrderedDict[tuple[str, str], tuple[bool, float]] = OrderedDict()
        self._lock = threading.Lock()

    def private(
        self, client: WebClient, team_id: str, channel_id: str, *, name: str | None = None
    ) -> bool:
        """Whether words said in `channel_id` are private (`name`: the payload's name for it).
        True when Slack can't be asked."""
        said = said_by_payload(channel_id, name)
        if said is not None:
            return said
        known = self._remembered(team_id, channel_id)
        if known is not None:
            return known
        try:
            info = self.info(client, team_id, channel_id)
        except (SlackApiError, SlackClientError, OSError) as error:
            log.warning("could not ask if %s is private (%s): taken as private", channel_id, error)
            return True
        return info is None or is_private(info)

    def of_command(self, client: WebClient, team_id: str, command: Mapping[str, Any]) -> bool:
        """Where a slash command was typed: its `channel_name` says, for public channels too."""
        channel_id = str(command.get("channel_id") or "")
        name = command.get("channel_name")
        if name:
            return bool(said_by_payload(channel_id, str(name)))
        return self.private(client, team_id, channel_id)

    def info(self, client: WebClient, team_id: str, channel_id: str) -> dict[str, Any] | None:
        """Slack's `conversations.info` answer, remembering whether it is private; None when
        Slack says the app cannot see the conversation. Raises when Slack fails otherwise."""
        try:
            info = dict(client.conversations_info(channel=channel_id)["channel"])
        except SlackApiError as error:
            if error.response.get("error") in UNSEEN:
                return None
            raise
        self._remember(team_id, channel_id, is_private(info))
        return info

    def _remembered(self, team_id: str, channel_id: str) -> bool | None:
        with self._lock:
            known = self._known.get((team_id, channel_id))
            if known is None:
                return None
            private, since = known
            if self.clock() - since > self.remembered:
                del self._known[(team_id, channel_id)]
                return None
            return private

    def _remember(self, team_id: str, channel_id: str, private: bool) -> None:
        with self._lock:
            self._known[(team_id, channel_id)] = (private, self.clock())
            self._known.move_to_end((team_id, channel_id))
            while len(self._known) > MOST_REMEMBERED:
                self._known.popitem(last=False)

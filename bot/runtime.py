"""What every entry point hands down: settings, database, clock, Slack clients, the sender."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock, system_clock
from bot.config import Settings
from bot.domain import Workspace
from bot.slack.client import ClientProvider, SingleWorkspaceClients
from bot.slack.conversations import Conversations
from bot.slack.outbox import OutboxSender
from bot.store.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    clients: ClientProvider
    sender: OutboxSender
    # Which conversations are private, remembered for a few minutes.
    conversations: Conversations = field(default_factory=Conversations)

    def forget_tokens(self, workspace: Workspace) -> None:
        """Drop a workspace's stored tokens (OAuth mode); token mode has only the env's."""
        forget = getattr(self.clients, "forget", None)
        if forget is not None:
            forget(workspace)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        db: Database | None = None,
        clock: Clock = system_clock,
        clients: ClientProvider | None = None,
    ) -> Runtime:
        db = db or Database(settings.database_url)
        if clients is None and settings.oauth_mode:
            from bot.slack.oauth import OAuthClients, installation_store

            clients = OAuthClients(settings, installation_store(settings, db))
        clients = clients or SingleWorkspaceClients(settings, db, clock)
        return cls(settings, db, clock, clients, make_sender(db, clients, clock))


def make_sender(db: Database, clients: ClientProvider, clock: Clock) -> OutboxSender:
    """The outbox sender, with the follow-ups some messages need once they are posted."""
    from bot.services.ask_posts import after_sent

    return OutboxSender(db, clients, clock, on_sent=after_sent)

"""What every entry point hands down: settings, database, clock, Slack clients, the sender."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock, system_clock
from bot.config import Settings
from bot.slack.client import ClientProvider, SingleWorkspaceClients
from bot.slack.outbox import OutboxSender
from bot.store.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    clients: ClientProvider
    sender: OutboxSender

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
        clients = clients or SingleWorkspaceClients(settings)
        return cls(settings, db, clock, clients, OutboxSender(db, clients, clock))

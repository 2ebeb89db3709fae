"""Everything that is due at one instant, run once. `advocate tick` and the scheduler call it.

Safe to run from any number of processes at once: every send is decided by a unique key in
the database before it goes out (see bot/slack/outbox.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import fixed_clock, system_clock
from bot.domain import Workspace
from bot.jobs.asks import queue_reminders
from bot.jobs.checkins import queue_checkins, refresh_people
from bot.jobs.digest import DigestOutcome, post_digest
from bot.jobs.teams import refresh_teams
from bot.pipeline import purge_done
from bot.runtime import Runtime
from bot.services import insight_tallies, lifecycle, retention, sessions, workspaces
from bot.services import settings as workspace_settings
from bot.services.schedule import due_week
from bot.slack.client import SingleWorkspaceClients

log = logging.getLogger(__name__)

# A digest channel that is unreachable is looked at again every few minutes, not every tick;
# admins are told once per week regardless (see jobs/digest.py).
PROBLEM_RETRY = timedelta(minutes=10)
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
_last_problem: dict[tuple[str, str | None, str], datetime] = {}
ANALYZE_EVERY = timedelta(hours=6)
_last_analyze: dict[str, datetime] = {}


@dataclass
class TickReport:
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    checkins_queued: int = 0
    reminders_queued: int = 0
    digests: list[DigestOutcome] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"outbox: {self.delivered} sent, {self.failed} failed, {self.pending} waiting",
            f"check-ins queued: {self.checkins_queued}",
            f"reminders queued: {self.reminders_queued}",
        ]
        parts += [f"digest: {d.detail}" for d in self.digests]
        return "; ".join(parts)


def at(runtime: Runtime, now: datetime | None) -> Runtime:
    """The runtime with its clock fixed at `now` for deciding what is due, or unchanged.
    The sender keeps the runtime's own clock: leases and retry times are written on it, so
    that a past `--now` never writes a lease that has already run out."""
    if now is None:
        return runtime
    return replace(runtime, clock=fixed_clock(now))


# What auth.test answers for a token that no longer works: revoked, or its app uninstalled.
REVOKED = ("token_revoked", "invalid_auth", "account_inactive")


def register_token_workspace(runtime: Runtime) -> None:
    """Token mode: ask Slack which workspace the token serves (which also proves it still
    works) and make sure that workspace is registered. Every entry point that serves
    requests or runs scheduled work calls this first."""
    if not isinstance(runtime.clients, SingleWorkspaceClients):
        return
    if workspaces.token_revoked(runtime.db, runtime.clients.token_sha256):
        # Uninstalled: the workspace's data waits for the purge, and this token can never
        # serve it again (a reinstall brings a new one).
        log.warning("SLACK_BOT_TOKEN was revoked when the app was uninstalled; set a new one")
        return
    try:
        owner = runtime.clients.owner(ask_slack=True)
    except SlackApiError as error:
        if error.response.get("error") not in REVOKED:
            raise
        workspaces.revoke_token(runtime.db, runtime.clients.token_sha256, system_clock())
        log.warning(
            "Slack refuses SLACK_BOT_TOKEN (%s): no workspace is served until it is replaced",
            error.response.get("error"),
        )
        return
    if owner.org_wide:
        # An org-wide token of Enterprise Grid serves every workspace its organisation
        # approved the app for: each is registered, so its scheduled work runs.
        for team in org_workspaces(runtime.clients.client_for_org()):
            workspace = Workspace(str(team["id"]), owner.enterprise_id)
            workspaces.ensure(runtime.db, workspace, str(team.get("name") or ""), runtime.clock())
    elif owner.team_id:
        workspaces.ensure(runtime.db, owner.workspace, owner.name, runtime.clock())


def org_workspaces(client: WebClient) -> list[dict[str, object]]:
    """The workspaces an org-wide token may act in (auth.teams.list, paged)."""
    teams: list[dict[str, object]] = []
    for page in client.auth_teams_list(limit=1000):
        teams += [t for t in page.get("teams") or [] if isinstance(t, dict) and t.get("id")]
    return teams


def served(runtime: Runtime) -> list[Workspace]:
    """The installed workspaces that scheduled work runs for: in token mode the token's own
    only, whatever else the database holds."""
    return [w for w in workspaces.active(runtime.db) if runtime.clients.serves(w)]


def tick(runtime: Runtime, now: datetime | None = None) -> TickReport:
    """Run due work at `now` (default: the runtime's clock)."""
    runtime = at(runtime, now)
    now = runtime.clock()
    report = TickReport()
    lifecycle.purge_expired(runtime.db, now, runtime.settings.retention_days)
    # What is erased is erased on the real clock, whatever `--now` says is due.
    purge_done(runtime.db, system_clock())
    # Sign-ins never finished and sessions past their 12 hours.
    sessions.purge_expired(runtime.db, system_clock())
    retention.prune_now_and_then(
        runtime.db, system_clock(), runtime.settings.message_retention_days
    )
    _refresh_sqlite_statistics(runtime, now)
    for workspace in served(runtime):
        try:
            _workspace_tick(runtime, workspace, now, report)
        except Exception:
            # One workspace's trouble must not hold up the others.
            log.exception("scheduled work failed for %s", workspace.team_id)
    runtime.sender.take_back_from_the_dead()
    results = runtime.sender.deliver_due()
    report.delivered = sum(r.status == "sent" for r in results)
    report.failed = sum(r.status == "failed" for r in results)
    report.pending = sum(r.status == "pending" for r in results)
    if results or report.checkins_queued or report.reminders_queued or report.digests:
        log.info("tick: %s", report)
    return report


# A check-in channel's members, as Slack last said, for a few minutes: check-ins stay due
# for a day, and the scheduler ticks every 15 seconds.
MEMBERS_FOR = timedelta(minutes=10)
_members: dict[tuple[str, str], tuple[datetime, set[str]]] = {}


def channel_members(client: WebClient, workspace: Workspace, channel: str) -> set[str]:
    """The members of `channel`, paged from Slack at most every MEMBERS_FOR."""
    key = (workspace.team_id, channel)
    now = system_clock()
    known = _members.get(key)
    if known is not None and now - known[0] < MEMBERS_FOR:
        return known[1]
    members: set[str] = set()
    for page in client.conversations_members(channel=channel, limit=1000):
        members.update(page.get("members", []))
    _members[key] = (now, members)
    return members


def _refresh_sqlite_statistics(runtime: Runtime, now: datetime) -> None:
    """SQLite plans queries from statistics only ANALYZE gathers (PostgreSQL's autovacuum
    keeps its own): without them the digest query is ~75x slower at 100k appreciations."""
    if not runtime.db.url.startswith("sqlite"):
        return
    last = _last_analyze.get(runtime.db.url)
    if last is not None and now - last < ANALYZE_EVERY:
        return
    with runtime.db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    _last_analyze[runtime.db.url] = now


def _workspace_tick(
    runtime: Runtime, workspace: Workspace, now: datetime, report: TickReport
) -> None:
    config = workspace_settings.for_workspace(runtime.db, workspace, runtime.settings)
    client = runtime.clients.client_for(workspace.team_id, workspace.enterprise_id)
    if config.digest_channel:
        week = due_week(now, config.digest_day, config.digest_time, ZoneInfo(config.timezone))
        attempt = (workspace.team_id, week, config.digest_channel)
        if week and now - _last_problem.get(attempt, _LONG_AGO) >= PROBLEM_RETRY:
            outcome = post_digest(runtime, workspace, config, week, config.digest_channel, now)
            if outcome.status == "problem":
                _last_problem[attempt] = now
            if outcome.status in ("posted", "problem", "pending"):
                report.digests.append(outcome)
    refresh_people(runtime, client, workspace, now)
    members = None
    if config.checkin_audience == "channel" and config.checkin_channel:
        channel = config.checkin_channel
        members = lambda: channel_members(client, workspace, channel)  # noqa: E731
    report.checkins_queued += queue_checkins(runtime, workspace, config, now, members)
    report.reminders_queued += queue_reminders(runtime, workspace, config, now)
    # Last, and on its own: the teams only feed the insights page, so Slack failing to
    # list them holds up nothing of the above.
    try:
        refresh_teams(runtime, client, workspace, now)
    except Exception:
        log.warning("could not read the teams of %s", workspace.team_id, exc_info=True)
    # Ahead of the insights page: a few closed weeks a tick (none once they are kept), so
    # that a page finds them worked out.
    try:
        insight_tallies.catch_up(runtime.db, workspace, now)
    except Exception:
        log.warning("could not work out the insights of %s", workspace.team_id, exc_info=True)

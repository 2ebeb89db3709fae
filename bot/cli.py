"""The `advocate` command."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

from bot import heap
from bot.config import ConfigError, Settings
from bot.logs import install_redaction, log_json_lines

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.store.db import Database
    from bot.worker import WorkerProcess

log = logging.getLogger("bot")

IN_MEMORY_SQLITE = ("sqlite://", "sqlite:///:memory:", "sqlite+pysqlite:///:memory:")


class CommandError(Exception):
    """A failure the operator can act on; printed as one line."""

    exit_code = 2


class SlackNotAnswering(CommandError):
    """Slack could not be reached: worth trying again later (EX_TEMPFAIL)."""

    exit_code = 75


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings)
        if settings.signin_enabled and not settings.oauth_mode:
            # Token mode with sign-in: Bolt would read these two and turn to OAuth mode.
            os.environ.pop("SLACK_CLIENT_ID", None)
            os.environ.pop("SLACK_CLIENT_SECRET", None)
        return int(args.handler(settings, args) or 0)
    except CommandError as error:
        print(f"advocate: {error}", file=sys.stderr)
        return error.exit_code
    except ConfigError as error:
        print(f"advocate: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the last line of defence: one line, details in the log
        log.debug("unexpected failure", exc_info=True)
        print(f"advocate: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=getattr(logging, settings.log_level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[log_json_lines()] if settings.log_format == "json" else None,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    install_redaction()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="advocate", description="Advocate: appreciation and asks that win internal support."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (Socket Mode or HTTP)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--http", action="store_true", help="serve HTTP even if SLACK_APP_TOKEN is set"
    )
    mode.add_argument("--socket", action="store_true", help="use Socket Mode")
    run.add_argument("--port", type=int, help="HTTP port (default: PORT, 3000)")
    run.add_argument("--no-scheduler", action="store_true", help="do not run scheduled work here")
    run.add_argument(
        "--no-workers",
        action="store_true",
        help="only store and acknowledge requests (run `advocate worker` somewhere else)",
    )
    run.set_defaults(handler=cmd_run)

    worker = sub.add_parser("worker", help="work stored requests alone")
    worker.set_defaults(handler=cmd_worker)

    scheduler = sub.add_parser("scheduler", help="run the scheduler alone")
    scheduler.set_defaults(handler=cmd_scheduler)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    tick = sub.add_parser("tick", help="run all scheduled work due now, once")
    tick.add_argument("--now", type=_instant, help="the instant, ISO-8601 (default: now)")
    tick.set_defaults(handler=cmd_tick)

    digest = sub.add_parser("digest", help="preview or post the weekly digest")
    digest_sub = digest.add_subparsers(dest="action", required=True, metavar="ACTION")
    preview = digest_sub.add_parser("preview", help="print the digest")
    post = digest_sub.add_parser("post", help="post the digest now (once per week and channel)")
    for p in (preview, post):
        p.add_argument("--team", help="workspace id (when several are installed)")
        p.add_argument(
            "--week",
            type=_week,
            help="the ISO week the digest is scheduled in, e.g. 2026-W48 (default: this week); "
            "it covers the days since the digest before",
        )
    preview.add_argument("--json", action="store_true", help="print the Block Kit JSON")
    post.add_argument("--channel", help="channel id (default: the digest channel setting)")
    preview.set_defaults(handler=cmd_digest_preview)
    post.set_defaults(handler=cmd_digest_post)

    recap = sub.add_parser("recap", help="preview a person's year-end recap")
    recap_sub = recap.add_subparsers(dest="action", required=True, metavar="ACTION")
    recap_preview = recap_sub.add_parser("preview", help="print a person's recap")
    recap_preview.add_argument("--user", required=True, help="the person's user id (U...)")
    recap_preview.add_argument("--year", type=int, help="the year (default: this year)")
    recap_preview.add_argument("--team", help="workspace id (when several are installed)")
    recap_preview.add_argument("--json", action="store_true", help="print the Block Kit JSON")
    recap_preview.set_defaults(handler=cmd_recap_preview)

    export = sub.add_parser("export", help="export one workspace's data")
    export.add_argument("--team", help="workspace id (when several are installed)")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument(
        "--output", help="file (json) or folder (csv, one file per kind); json default: stdout"
    )
    export.set_defaults(handler=cmd_export)

    forget = sub.add_parser("forget", help="erase one person's personal data")
    whom = forget.add_mutually_exclusive_group(required=True)
    whom.add_argument("--user", help="the person's Slack user id")
    whom.add_argument(
        "--all", action="store_true", help="erase the whole workspace --team names (cleanup)"
    )
    forget.add_argument("--team", help="workspace id (when several are installed)")
    forget.set_defaults(handler=cmd_forget)

    check = sub.add_parser("check", help="check configuration, token, scopes and database")
    check.set_defaults(handler=cmd_check)
    return parser


def _instant(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 instant: {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _require_tokens(settings: Settings) -> None:
    """Scheduled work needs a bot token, or OAuth mode's stored installations."""
    if not settings.oauth_mode:
        settings.require("slack_bot_token")


def _week(raw: str) -> str:
    from bot.services.schedule import parse_week

    try:
        return parse_week(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _runtime(settings: Settings) -> Runtime:
    # Imported here so that `advocate --help` and config errors stay fast.
    from bot.runtime import Runtime

    return Runtime.create(settings)


def _ensure_schema(runtime: Runtime) -> None:
    _schema_at_head(runtime.settings, runtime.db)


def _schema_at_head(settings: Settings, db: Database) -> None:
    from bot.store import migrate

    if settings.uses_default_sqlite:
        migrate.upgrade(db.engine)
    elif migrate.pending(db.engine):
        raise CommandError("the database schema is out of date; run `advocate migrate` first.")


def _prepare_schema(settings: Settings) -> None:
    """`_ensure_schema` with a database handle of its own, closed after: what the server
    forks must not share its connections."""
    from bot.store.db import Database

    db = Database(settings.database_url)
    try:
        _schema_at_head(settings, db)
    finally:
        db.dispose()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    socket = args.socket or (settings.socket_mode and not args.http)
    if socket:
        settings.require("slack_app_token", "slack_bot_token")
    elif settings.oauth_mode:
        settings.require("slack_signing_secret")
    else:
        settings.require("slack_bot_token", "slack_signing_secret")
    # Socket Mode listens on PORT too when it serves sign-in and the insights pages.
    listens = not socket or settings.signin_enabled
    if listens and settings.metrics_port == (args.port or settings.port):
        raise CommandError("METRICS_PORT must differ from the HTTP port (PORT or --port).")
    # Over HTTP the workers run in a process of their own (bot/worker.py), started first so
    # that on Linux it is forked before this process opens a database connection or starts
    # a thread. An in-memory database, which another process cannot see, keeps them here.
    forks = not (args.no_workers or socket) and settings.database_url not in IN_MEMORY_SQLITE
    if forks:
        # The schema first: the worker process reads the tables the moment it starts.
        _prepare_schema(settings)
    shared_metrics = _share_metrics(settings) if forks else None
    worker_process = _worker_process(settings) if forks else None
    workers = scheduler = runtime = None
    cleanup = contextlib.ExitStack()
    try:
        runtime = _runtime(settings)
        _ensure_schema(runtime)

        from bot import metrics
        from bot.app import build_pipeline, build_workers
        from bot.jobs.tick import register_token_workspace

        register_token_workspace(runtime)
        cleanup.enter_context(metrics.serving(settings.metrics_port, runtime))
        pipeline = build_pipeline(runtime, socket_mode=socket, verify_token=True)
        if worker_process is not None:
            from bot.doorbell import Doorbell

            pipeline.stored = Doorbell(worker_process.doorbell).ring
            worker_process.watch()
        elif not args.no_workers:
            workers = build_workers(runtime).start()
            pipeline.stored = workers.wake
        if not args.no_scheduler:
            from bot.jobs.scheduler import make_scheduler

            scheduler = make_scheduler(runtime)
            scheduler.start()
        _stop_on_sigterm()
        from bot.signin import make_signin

        signin = make_signin(runtime)
        heap.settled()
        port = args.port or settings.port
        if socket:
            from bot.socket_mode import PipelineSocketHandler

            if signin is not None:
                from bot.web import WebApp, serving_pages

                log.info("serving sign-in and /insights on port %s", port)
                pages = serving_pages(WebApp(None, runtime.db, signin=signin), port)
                cleanup.callback(pages.close)
            log.info("starting in Socket Mode")
            assert settings.slack_app_token
            PipelineSocketHandler(pipeline, settings.slack_app_token).start()
        else:
            from bot.web import WebApp, serve

            served = " and /insights" if signin is not None else ""
            log.info("serving HTTP on port %s (POST /slack/events, GET /healthz%s)", port, served)
            serve(WebApp(pipeline, runtime.db, settings.slack_signing_secret, signin), port)
    finally:
        # The requests in hand are finished; what is stored waits for the next start.
        if worker_process is not None:
            worker_process.stop()
        if workers is not None:
            workers.stop()
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        cleanup.close()
        if runtime is not None:
            runtime.db.dispose()
        if shared_metrics is not None:
            shutil.rmtree(shared_metrics, ignore_errors=True)
    return 0


def _worker_process(settings: Settings) -> WorkerProcess:
    from bot.worker import WorkerProcess

    return WorkerProcess(settings)


def _share_metrics(settings: Settings) -> str | None:
    """With METRICS_PORT, an empty directory where this process and its worker process keep
    their metrics, made before either imports prometheus_client (see bot/metrics.py); its
    path, to remove at exit. None when metrics are off or the operator chose a directory."""
    if settings.metrics_port is None or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = tempfile.mkdtemp(prefix="advocate-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    _require_tokens(settings)
    runtime = _runtime(settings)
    _ensure_schema(runtime)
    runtime.db.dispose()
    from bot.worker import run_workers

    run_workers(settings, metrics_port=settings.metrics_port)
    return 0


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    _require_tokens(settings)
    runtime = _runtime(settings)
    _ensure_schema(runtime)
    from bot import metrics
    from bot.jobs.scheduler import make_scheduler
    from bot.jobs.tick import register_token_workspace

    register_token_workspace(runtime)
    scheduler = make_scheduler(runtime)
    _stop_on_sigterm()
    heap.settled()
    with metrics.serving(settings.metrics_port, runtime):
        scheduler.start()
        log.info("scheduler running")
        try:
            signal.pause()
        finally:
            # Let a tick in flight finish: its claims are then settled, not left to expire.
            scheduler.shutdown(wait=True)
            runtime.db.dispose()
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store import migrate
    from bot.store.db import Database

    db = Database(settings.database_url)
    migrate.upgrade(db.engine)
    db.dispose()
    print("database is up to date")
    return 0


def cmd_tick(settings: Settings, args: argparse.Namespace) -> int:
    _require_tokens(settings)
    runtime = _runtime(settings)
    _ensure_schema(runtime)
    from bot.jobs.tick import register_token_workspace, tick

    register_token_workspace(runtime)
    print(tick(runtime, args.now))
    return 0


def _digest_context(settings: Settings, args: argparse.Namespace, *, sends: bool):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    from bot.services import settings as workspace_settings
    from bot.services.schedule import week_of

    _require_tokens(settings)
    runtime = _runtime(settings)
    _ensure_schema(runtime)
    workspace = _resolve(runtime, args.team, ask_slack=sends)
    config = workspace_settings.for_workspace(runtime.db, workspace, settings)
    week = args.week or week_of(runtime.clock(), ZoneInfo(config.timezone))
    return runtime, workspace, config, week


def _resolve(runtime: Runtime, team: str | None, *, ask_slack: bool = False, cleanup: bool = False):  # type: ignore[no-untyped-def]
    """The workspace a command works on: in token mode the token's own (see
    workspaces.resolve), registered first when the command sends to Slack."""
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.jobs.tick import register_token_workspace
    from bot.services import workspaces
    from bot.slack.client import not_answering

    try:
        if ask_slack:
            try:
                register_token_workspace(runtime)
            except Exception as error:
                if not not_answering(error):
                    raise
                # Slack is down: what the database remembers of the token will do.
                log.warning("Slack is not answering (%s); using the token's known workspace", error)
        # Without any token (an admin exporting or forgetting), the database says alone.
        owner = runtime.clients.token_owner() if runtime.settings.slack_bot_token else None
    except Exception as error:
        if not_answering(error):
            raise SlackNotAnswering(
                f"Slack is not answering, and which workspace SLACK_BOT_TOKEN serves is not "
                f"known yet: nothing was done; try again when Slack answers ({error})"
            ) from None
        if isinstance(error, SlackApiError):
            raise CommandError(
                f"Slack refused SLACK_BOT_TOKEN ({error.response.get('error')}); see "
                "`advocate check`"
            ) from None
        if isinstance(error, SlackClientError | OSError):
            raise CommandError(
                f"could not ask Slack which workspace SLACK_BOT_TOKEN serves: {error}"
            ) from None
        raise
    try:
        return workspaces.resolve(runtime.db, team, owner, cleanup=cleanup)
    except LookupError as error:
        raise CommandError(str(error)) from None


def cmd_digest_preview(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from bot.blocks.digest import covers, digest_message, digest_text
    from bot.services import digest as digests
    from bot.services.names import names_in

    runtime, workspace, config, week = _digest_context(settings, args, sends=False)
    window = digests.window(runtime.db, workspace, week, config)
    digest = digests.build(runtime.db, workspace, window, config.timezone)
    if digest is None:
        days = covers(window.start, window.end, config.timezone)
        print(f"No appreciation for the {week} digest, which covers {days}: nothing to post.")
        return 0
    if args.json:
        print(json.dumps(digest_message(digest), indent=2))
    else:
        print(digest_text(digest, names_in(runtime.db, workspace)))
    return 0


def cmd_recap_preview(settings: Settings, args: argparse.Namespace) -> int:
    import json
    from zoneinfo import ZoneInfo

    from bot.blocks.recap import recap_message, recap_text
    from bot.services import recap as recaps
    from bot.services import settings as workspace_settings
    from bot.services.names import names_in

    _require_tokens(settings)
    runtime = _runtime(settings)
    _ensure_schema(runtime)
    workspace = _resolve(runtime, args.team)
    config = workspace_settings.for_workspace(runtime.db, workspace, settings)
    year = args.year or runtime.clock().astimezone(ZoneInfo(config.timezone)).year
    recap = recaps.build(runtime.db, workspace, year, args.user, config.timezone)
    if recap.empty or not args.json:
        print(recap_text(recap, names_in(runtime.db, workspace)))
    else:
        print(json.dumps(recap_message(recap), indent=2))
    return 0


def cmd_digest_post(settings: Settings, args: argparse.Namespace) -> int:
    from bot.jobs.digest import post_digest

    runtime, workspace, config, week = _digest_context(settings, args, sends=True)
    channel = args.channel or config.digest_channel
    if not channel:
        raise CommandError("no channel: pass --channel C123 or set ADVOCATE_DIGEST_CHANNEL.")
    outcome = post_digest(runtime, workspace, config, week, channel, runtime.clock())
    if not outcome.ok:
        raise CommandError(f"the {week} digest was not posted: {outcome.detail}")
    if outcome.status == "pending":
        raise SlackNotAnswering(f"the {week} digest is {outcome.detail}")
    print(outcome.detail)
    return 0


def _workspace(settings: Settings, team: str | None):  # type: ignore[no-untyped-def]
    """Export and forget: the token's workspace, or, to clean up, one that --team names."""
    runtime = _runtime(settings)
    _ensure_schema(runtime)
    return runtime, _resolve(runtime, team, cleanup=True)


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.services import export

    runtime, workspace = _workspace(settings, args.team)
    data = export.collect(runtime.db, workspace)
    if args.format == "csv":
        if not args.output:
            raise CommandError("--format csv writes one file per kind: give --output FOLDER.")
        for path in export.to_csv_files(data, Path(args.output)):
            print(path)
    elif args.output:
        Path(args.output).write_text(export.to_json(data), encoding="utf-8")
        print(args.output)
    else:
        print(export.to_json(data))
    return 0


def cmd_forget(settings: Settings, args: argparse.Namespace) -> int:
    from bot.clock import system_clock
    from bot.services import lifecycle

    if args.all:
        if not args.team:
            raise CommandError("--all erases a whole workspace: name it with --team T.")
        runtime, workspace = _workspace(settings, args.team)
        lifecycle.purge(runtime.db, workspace.team_id)
        print(f"forgot workspace {workspace.team_id}: every row of it is deleted")
        return 0
    runtime, workspace = _workspace(settings, args.team)
    counts = lifecycle.forget(runtime.db, workspace, args.user, system_clock())
    if not counts:
        print(f"forgot {args.user} in {workspace.team_id}: nothing of theirs was left")
        return 0
    print(f"forgot {args.user} in {workspace.team_id}; rows erased or changed, by table:")
    for table, n in sorted(counts.items()):
        print(f"  {table}: {n}")
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.health import run_checks

    results = run_checks(settings)
    for result in results:
        print(result)
    return 0 if all(r.ok for r in results) else 1


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)

"""`GET /insights` and `GET /insights.csv` for a signed-in viewer: which page they may see,
for the period and table the URL asks, so a URL can be shared with another admin.

Admins see their workspace's page (and their own with `view=me`); everyone else sees their
own. Whoever the viewer is, every figure is read for their workspace alone.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl

from bot.domain import Workspace
from bot.pages import insights as pages
from bot.services import insights
from bot.signin import Viewer
from bot.store.db import Database

Response = tuple[str, list[tuple[str, str]], bytes]
HTML = "text/html; charset=utf-8"
CSV = "text/csv; charset=utf-8"


def respond(db: Database, viewer: Viewer, path: str, query_string: str, now: datetime) -> Response:
    query = {
        key: value
        for key, value in parse_qsl(query_string)
        if key in ("period", "view", "table", "team")
    }
    query["period"] = insights.period(query.get("period"), now).name
    whole = viewer.is_admin and query.get("view") != "me"
    if not whole:
        query.pop("view", None)
        query.pop("team", None)
    try:
        return _respond(db, viewer, path, query, whole, now)
    except insights.NoSuchTeam:
        message = "That team is not shown here: it has fewer than 3 people, or is not a team."
        return _html("404 Not Found", pages.message_page("No such team", message))


def _respond(
    db: Database, viewer: Viewer, path: str, query: dict[str, str], whole: bool, now: datetime
) -> Response:
    chosen = insights.period(query.get("period"), now)
    workspace = Workspace(viewer.team_id)
    workspace_name = insights.workspace_name(db, workspace)
    team = query.get("team") or None
    if path.endswith(".csv"):
        table = query.pop("table", "")
        if whole:
            text = pages.workspace_csv(
                insights.for_workspace(db, workspace, chosen, team, now), table
            )
        else:
            mine = insights.for_person(db, workspace, viewer.user_id, chosen, now)
            text = pages.personal_csv(mine, table)
        if text is None:
            return _html("404 Not Found", pages.message_page("Not found", "No such table."))
        filename = f"insights-{table}-{chosen.name}-{chosen.start.date().isoformat()}.csv"
        headers = [
            ("Content-Type", CSV),
            ("Content-Disposition", f'attachment; filename="{filename}"'),
        ]
        return "200 OK", headers, text.encode("utf-8")
    query.pop("table", None)
    if whole:
        page = pages.workspace_page(
            insights.for_workspace(db, workspace, chosen, team, now),
            workspace_name,
            viewer.name,
            query,
        )
    else:
        mine = insights.for_person(db, workspace, viewer.user_id, chosen, now)
        page = pages.personal_page(mine, workspace_name, viewer.name, query)
    return _html("200 OK", page)


def _html(status: str, page: str) -> Response:
    return status, [("Content-Type", HTML)], page.encode("utf-8")

"""The insights page: a workspace's for its admins, a person's own for everyone else.

`respond` is the page's one entry: bot/web.py calls it once the viewer is known."""

from __future__ import annotations

from datetime import datetime

from bot.services import workspaces
from bot.signin import SIGNOUT_PATH, Viewer, page
from bot.store.db import Database


def respond(
    db: Database, viewer: Viewer, path: str, query_string: str, now: datetime
) -> tuple[str, list[tuple[str, str]], bytes]:
    """The page at `path` (`/insights` or `/insights.csv`) for `viewer`, as (status,
    headers, body)."""
    served = workspaces.served(db, viewer.team_id)
    name = served[1] if served is not None else viewer.team_id
    sign_out = (
        f'<form method="post" action="{SIGNOUT_PATH}">'
        '<button type="submit">Sign out</button></form>'
    )
    if path.endswith(".csv"):
        body = b"what,value\r\n"
        return "200 OK", [("Content-Type", "text/csv; charset=utf-8")], body
    if viewer.is_admin:
        return page("200 OK", f"Insights for {name}", sign_out)
    return page("200 OK", f"Your insights, {viewer.name}", sign_out)

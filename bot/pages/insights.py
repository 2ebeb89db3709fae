"""The insights page as HTML, and its tables as CSV: pure functions of the figures.

Everything shown is escaped here; the figures already hold only what may be shown (see
services/insights.py). Every chart has a table of the same figures beside it, and every
table a CSV link that carries the page's filters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from html import escape
from urllib.parse import urlencode

from bot.pages import svg
from bot.services.insights import (
    PERIODS,
    Participation,
    Period,
    PersonalInsights,
    WorkspaceInsights,
)

Table = tuple[list[str], list[list[str]]]  # headers, rows

PERIOD_NAMES = {"4w": "4 weeks", "quarter": "Quarter", "year": "Year"}

STYLE = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1c1d}
header,main{max-width:960px;margin:0 auto;padding:12px 16px}
header{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:baseline;justify-content:space-between}
h1{font-size:1.5rem;margin:8px 0}h2{font-size:1.15rem;margin:28px 0 8px}
nav a{margin-right:12px}nav a[aria-current]{font-weight:700;text-decoration:none;color:#1d1c1d}
section{border-top:1px solid #ddd}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:.95rem}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee}td.n,th.n{text-align:right}
svg{width:100%;height:auto;max-width:640px;display:block}
svg#map{max-width:520px}
.bar{fill:#2e7d6b}.value,.label{font-size:12px;fill:#444}
.node{fill:#4a154b}.two-way{stroke:#2e7d6b}.one-way{stroke:#b36b00;stroke-dasharray:6 4}
.arrowhead{fill:#b36b00}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px}
.figure{padding:8px 12px;background:#f6f6f6;border-radius:6px}
.figure b{display:block;font-size:1.4rem}
.csv{font-size:.85rem}.muted{color:#616061}
header form{margin:0}header button{font:inherit;padding:2px 10px}
"""


def workspace_page(
    insights: WorkspaceInsights, workspace_name: str, viewer_name: str, query: dict[str, str]
) -> str:
    name = _namer(insights.names)
    chosen = insights.period
    body = [
        _figures(insights.participation, insights),
        _section(
            "weekly",
            "Appreciation per week",
            svg.bars(
                "weekly-chart",
                "Appreciation per week",
                _weekly_description(insights),
                [
                    svg.Bar(week.starts_on.strftime("%b %d"), week.appreciations)
                    for week in insights.weeks
                ],
            ),
            weekly_table(insights),
            query,
        ),
        _section(
            "advocates",
            "The internal advocates",
            '<p class="muted">Thanked in public by the most colleagues.</p>',
            advocates_table(insights, name),
            query,
        ),
        _section("values", "Company values cited", "", values_table(insights), query),
        _section(
            "asks",
            "Asks",
            '<p class="muted">Asks made in the period, and what became of them.</p>',
            asks_table(insights),
            query,
        ),
        _map_section(insights, name, query),
    ]
    if insights.team is not None:
        body.insert(
            1,
            _section(
                "relied_on",
                f"Who {insights.team.name} relies on",
                '<p class="muted">The colleagues outside the team who carried its people '
                "most: thanked by them in public, or keeping commitments to them.</p>",
                relied_on_table(insights, name),
                query,
            ),
        )
    scope = workspace_name if insights.team is None else f"{insights.team.name}, {workspace_name}"
    return _page(
        f"Insights: {scope}",
        f"Who carries whom in {scope}, {_span(chosen)}",
        viewer_name,
        chosen,
        query,
        _team_chooser(insights, query) + "".join(body),
    )


def _team_chooser(insights: WorkspaceInsights, query: dict[str, str]) -> str:
    if not insights.teams:
        return ""
    current = ' aria-current="page"'
    chosen = insights.team.group_id if insights.team else None
    links = [f'<a href="/insights?{_query(query, team=None)}"{"" if chosen else current}>All</a>']
    links += [
        f'<a href="/insights?{_query(query, team=team.group_id)}"'
        f"{current if team.group_id == chosen else ''}>{escape(team.name)}</a>"
        for team in insights.teams
    ]
    return f'<nav aria-label="Team" class="teams">Team: {" ".join(links)}</nav>'


def personal_page(
    insights: PersonalInsights, workspace_name: str, viewer_name: str, query: dict[str, str]
) -> str:
    name = _namer(insights.names)
    given = sum(week.given for week in insights.weeks)
    received = sum(week.received for week in insights.weeks)
    body = [
        '<div class="figures">'
        f'<div class="figure"><b>{given}</b>thanks you gave</div>'
        f'<div class="figure"><b>{received}</b>thanks you received</div>'
        f'<div class="figure"><b>{len(insights.people)}</b>colleagues in your thanks</div>'
        "</div>",
        _section(
            "weekly",
            "Your thanks per week",
            svg.bars(
                "weekly-chart",
                "Thanks you received per week",
                f"You received {received} and gave {given} thanks in {_span(insights.period)}.",
                [
                    svg.Bar(week.starts_on.strftime("%b %d"), week.received)
                    for week in insights.weeks
                ],
            ),
            personal_weekly_table(insights),
            query,
        ),
        _section(
            "people",
            "Your people",
            '<p class="muted">The colleagues you thanked, or who thanked you, in public.</p>',
            people_table(insights, name),
            query,
        ),
        _section(
            "asks", "Your asks and commitments", "", personal_asks_table(insights, name), query
        ),
    ]
    return _page(
        f"Your insights, {viewer_name}",
        f"{workspace_name}, {_span(insights.period)}",
        viewer_name,
        insights.period,
        query,
        "".join(body),
    )


def message_page(title: str, message: str, link: tuple[str, str] | None = None) -> str:
    """A page that says one thing (signed out, refused, not found) and where to go."""
    action = f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>' if link else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{action}</main></body></html>"
    )


# The tables, shared by the page and the CSV.


def weekly_table(insights: WorkspaceInsights) -> Table:
    return (
        ["Week of", "Appreciations", "People thanked"],
        [
            [week.starts_on.isoformat(), str(week.appreciations), str(week.people_thanked)]
            for week in insights.weeks
        ],
    )


def advocates_table(insights: WorkspaceInsights, name: Callable[[str], str]) -> Table:
    return (
        ["Person", "Colleagues who thanked them (each week counted)", "Thanks"],
        [[name(a.user_id), str(a.givers), str(a.received)] for a in insights.advocates],
    )


def values_table(insights: WorkspaceInsights) -> Table:
    return (["Value", "Cited"], [[value, str(count)] for value, count in insights.values])


def asks_table(insights: WorkspaceInsights) -> Table:
    asks = insights.asks
    hours = "" if asks.hours_to_commit is None else f"{asks.hours_to_commit:.1f}"
    return (
        ["Figure", "Count"],
        [
            ["Asked", str(asks.asked)],
            ["Committed to", str(asks.committed)],
            ["Kept on time", str(asks.kept_on_time)],
            ["Kept late", str(asks.kept_late)],
            ["Declined", str(asks.declined)],
            ["Obstacles raised", str(asks.obstacles_raised)],
            ["Obstacles resolved", str(asks.obstacles_resolved)],
            ["Median hours to commit", hours],
        ],
    )


def map_table(insights: WorkspaceInsights, name: Callable[[str], str]) -> Table:
    return (
        ["Carried by", "Carried", "Thanks", "Commitments kept", "The other way", "Two-way"],
        [
            [
                name(link.source),
                name(link.target),
                str(link.thanks),
                str(link.kept),
                str(link.back),
                "yes" if link.two_way else "no",
            ]
            for link in insights.map.links
        ],
    )


def leaning_table(insights: WorkspaceInsights, name: Callable[[str], str]) -> Table:
    """Who had commitments kept by someone they have not thanked in public."""
    return (
        ["Leans on", "Without thanking", "Commitments kept for them"],
        [[name(who), name(whom), str(kept)] for who, whom, kept in insights.map.leaning()],
    )


def unthanked_table(insights: WorkspaceInsights, name: Callable[[str], str]) -> Table:
    kind = "Team" if insights.map.of_teams else "Person"
    return ([kind], [[name(node)] for node in insights.map.unthanked()])


def relied_on_table(insights: WorkspaceInsights, name: Callable[[str], str]) -> Table:
    return (
        ["Colleague outside the team", "Times they carried its people"],
        [[name(user_id), str(times)] for user_id, times in insights.relied_on],
    )


def personal_weekly_table(insights: PersonalInsights) -> Table:
    return (
        ["Week of", "Thanks you gave", "Thanks you received"],
        [[w.starts_on.isoformat(), str(w.given), str(w.received)] for w in insights.weeks],
    )


def people_table(insights: PersonalInsights, name: Callable[[str], str]) -> Table:
    return (
        ["Colleague", "You thanked them", "They thanked you"],
        [[name(c.user_id), str(c.thanked), str(c.thanked_me)] for c in insights.people],
    )


def personal_asks_table(insights: PersonalInsights, name: Callable[[str], str]) -> Table:
    def kept(value: bool | None) -> str:
        return "" if value is None else ("on time" if value else "late")

    return (
        ["", "Colleague", "Request", "Status", "Due", "Kept"],
        [
            [
                "You asked" if line.role == "asked" else "Asked you",
                name(line.colleague_id),
                line.request or "",
                line.status,
                line.due_on.isoformat() if line.due_on else "",
                kept(line.kept_on_time),
            ]
            for line in insights.asks
        ],
    )


WORKSPACE_TABLES: dict[str, Callable[[WorkspaceInsights, Callable[[str], str]], Table]] = {
    "weekly": lambda insights, name: weekly_table(insights),
    "advocates": advocates_table,
    "values": lambda insights, name: values_table(insights),
    "asks": lambda insights, name: asks_table(insights),
    "map": map_table,
    "leaning": leaning_table,
    "unthanked": unthanked_table,
    "relied_on": relied_on_table,
}
PERSONAL_TABLES: dict[str, Callable[[PersonalInsights, Callable[[str], str]], Table]] = {
    "weekly": lambda insights, name: personal_weekly_table(insights),
    "people": people_table,
    "asks": personal_asks_table,
}


def workspace_csv(insights: WorkspaceInsights, table: str) -> str | None:
    chosen = WORKSPACE_TABLES.get(table)
    return _csv(chosen(insights, _namer(insights.names))) if chosen else None


def personal_csv(insights: PersonalInsights, table: str) -> str | None:
    chosen = PERSONAL_TABLES.get(table)
    return _csv(chosen(insights, _namer(insights.names))) if chosen else None


def _csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table[0])
    # A cell that a spreadsheet would run as a formula is written as text.
    writer.writerows([[_inert(cell) for cell in row] for row in table[1]])
    return out.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


# The parts of a page.


def _page(
    title: str,
    subtitle: str,
    viewer_name: str,
    chosen: Period,
    query: dict[str, str],
    body: str,
) -> str:
    current = ' aria-current="page"'
    periods = "".join(
        f'<a href="/insights?{_query(query, period=key)}"'
        f"{current if key == chosen.name else ''}>{PERIOD_NAMES[key]}</a>"
        for key in PERIODS
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<header><div><h1>{escape(title)}</h1><p class="muted">{escape(subtitle)}</p></div>'
        f'<form method="post" action="/slack/signout"><span class="muted">Signed in as '
        f'{escape(viewer_name)}</span> <button type="submit">Sign out</button></form></header>'
        f'<main><nav aria-label="Period">{periods}</nav>{body}</main></body></html>'
    )


def _section(key: str, title: str, chart: str, table: Table, query: dict[str, str]) -> str:
    """A titled part of the page: its chart, if it has one, with the chart's figures folded
    under it; otherwise the table itself. Each table has its CSV."""
    csv_link = f'<a class="csv" href="/insights.csv?{_query(query, table=key)}">CSV</a>'
    figures = _html_table(table)
    if "<svg" in chart and table[1]:
        figures = f"<details><summary>The figures</summary>{figures}</details>"
    return f'<section id="{key}"><h2>{escape(title)}</h2>{chart}{figures}{csv_link}</section>'


def _map_section(
    insights: WorkspaceInsights, name: Callable[[str], str], query: dict[str, str]
) -> str:
    carried = insights.map
    links = carried.links
    who = "teams" if carried.of_teams else "people most connected"
    description = (
        f"{len(carried.nodes)} {who}, joined by public thanks and kept commitments; "
        f"{sum(1 for link in links if link.two_way)} pairs carry each other, "
        f"{sum(1 for link in links if not link.two_way)} one way only. The table under the "
        "map lists every line."
    )
    chart = svg.network(
        "map",
        "Who carries whom",
        description,
        [name(node) for node in carried.nodes],
        [
            svg.Edge(name(link.source), name(link.target), link.volume + link.back, link.two_way)
            for link in links
        ],
    )
    between = "two teams" if carried.of_teams else "two people"
    explained = (
        f'<p class="muted">A line joins {between} when one thanked the other in public or '
        "had a commitment kept by them: solid when it goes both ways, a dashed arrow from "
        "who carried to whom they carried when it goes one way; the thicker, the more."
        + (" People in no team are together as “Others”." if carried.of_teams else "")
        + "</p>"
    )
    nobody = "Teams" if carried.of_teams else "People"
    return (
        _section("map", "Who carries whom", explained + chart, map_table(insights, name), query)
        + _section(
            "leaning",
            "Leaning without thanking",
            '<p class="muted">Commitments kept for someone who has not thanked them in public.</p>',
            leaning_table(insights, name),
            query,
        )
        + _section(
            "unthanked",
            f"{nobody} nobody outside thanked",
            "",
            unthanked_table(insights, name),
            query,
        )
    )


def _figures(participation: Participation, insights: WorkspaceInsights) -> str:
    def share(part: int) -> str:
        return f"{Participation.share(part, participation.members):.0%}"

    def trend(now: int, before: int) -> str:
        change = now - before
        return "no change" if not change else f"{change:+d} on the period before"

    total = sum(week.appreciations for week in insights.weeks)
    return (
        '<div class="figures" id="participation">'
        f'<div class="figure"><b>{total}</b>appreciations</div>'
        f'<div class="figure"><b>{share(participation.gave)}</b>of {participation.members} '
        f"members gave thanks ({participation.gave}; "
        f"{trend(participation.gave, participation.gave_before)})</div>"
        f'<div class="figure"><b>{share(participation.received)}</b>were thanked '
        f"({participation.received}; "
        f"{trend(participation.received, participation.received_before)})</div>"
        "</div>"
    )


def _weekly_description(insights: WorkspaceInsights) -> str:
    total = sum(week.appreciations for week in insights.weeks)
    busiest = max(insights.weeks, key=lambda week: week.appreciations, default=None)
    if not total or busiest is None:
        return f"No appreciation in {_span(insights.period)}."
    return (
        f"{total} appreciations in {_span(insights.period)}; the most in the week of "
        f"{busiest.starts_on.isoformat()} ({busiest.appreciations})."
    )


def _html_table(table: Table) -> str:
    headers, rows = table
    if not rows:
        return '<p class="muted">Nothing yet in this period.</p>'
    numeric = [
        ' class="n"' if all(_number(row[i]) for row in rows) else "" for i in range(len(headers))
    ]
    head = "".join(
        f'<th scope="col"{numeric[i]}>{escape(header)}</th>' for i, header in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{numeric[i]}>{escape(cell)}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(cell: str) -> bool:
    return not cell or cell.replace(".", "", 1).isdigit()


def _namer(names: dict[str, str]) -> Callable[[str], str]:
    return lambda user_id: names.get(user_id) or user_id


def _span(chosen: Period) -> str:
    last = chosen.end.date() - timedelta(days=1)
    return f"{chosen.start.date().isoformat()} to {last.isoformat()}"


def _query(query: dict[str, str], **changes: str | None) -> str:
    """The page's filters with `changes` (None drops one), as an escaped query string."""
    merged: dict[str, str | None] = {
        key: value for key, value in query.items() if key in ("period", "view", "team")
    }
    merged.update(changes)
    return escape(urlencode(sorted((k, v) for k, v in merged.items() if v)))

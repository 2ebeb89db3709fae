"""Markdown tables from a results dictionary (what `python -m bench --out` saves)."""

from __future__ import annotations

from typing import Any

ACK_RATIO_TARGET = 1.5
# The p99 target, a multiple of bare Bolt's, by load; ACK_RATIO_TARGET for the others.
ACK_TARGETS = {"1": 1.0}
# Targets against the work floor: p99 from a command at a Slack-like rate to its channel
# post (at most this multiple of the floor's), channel posts per second in a burst (at least
# this multiple), CPU per processed `/appreciate` (at most this multiple).
POSTED_P99_TARGET = 2.0
POSTED_RPS_TARGET = 0.5
CPU_TARGET = 2.0
# The Bolt baselines of bench/ack.py, by their key in the results.
BASELINE_NAMES = {"bolt": "bare Bolt", "bolt_inline": "inline floor"}
NAN = float("nan")
HISTORY_TITLES = {
    "sqlite": "SQLite as the app leaves it (never analyzed)",
    "sqlite+analyze": "SQLite after ANALYZE",
    "postgres": "PostgreSQL (after VACUUM ANALYZE, as autovacuum would leave it)",
}


def ms(value: float) -> str:
    if value != value:  # NaN
        return "–"
    if value < 10:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render(results: dict[str, Any]) -> str:
    code = results.get("code", {})
    changed = " plus uncommitted changes to bot/" if code.get("uncommitted_changes") else ""
    out: list[str] = [
        f"Mode: {results['mode']}; backends: {', '.join(results['backends'])}; "
        f"code: commit {code.get('commit', '?')}{changed}; "
        f"started {results['started']}, took {results['seconds'] / 60:.1f} min."
    ]
    out += machine(results["machine"])
    sections = results["sections"]
    renderers = {
        "ack": ack,
        "history": history,
        "checkins": checkins,
        "home": home,
        "memory": memory,
        "recap": recap,
        "retention": retention,
        "insights": insights,
    }
    for name, render_section in renderers.items():
        if name in sections:
            out += ["", *render_section(sections[name])]
            before, after = sections[name]["load_average"].values()
            out += [
                "",
                f"_Section time {sections[name]['seconds']:.0f} s; 1-minute load average "
                f"{before[0]:.1f} before, {after[0]:.1f} after._",
            ]
    return "\n".join(out) + "\n"


def machine(info: dict[str, Any]) -> list[str]:
    return [
        "",
        *table(
            ["CPUs (nproc)", "memory", "CPU", "Python", "PostgreSQL", "SQLite"],
            [
                [
                    str(info["nproc"]),
                    f"{info['memory_gb']} GB",
                    info["cpu"],
                    info["python"],
                    str(info.get("postgresql", "–")),
                    info["sqlite"],
                ]
            ],
        ),
    ]


def load_label(label: str) -> str:
    if label.endswith("/s"):
        return f"{label} open loop"
    return f"{label} client" + ("s" if label != "1" else "")


def ack(section: dict[str, Any]) -> list[str]:
    plan = section["plan"]
    seconds = plan.get("sustained_seconds", 0)
    lines = [
        "### 1. Ack latency and throughput (client side, through waitress)",
        "",
        f"{plan['requests']} signed requests per run, {plan['runs']} run(s), medians over "
        "runs"
        + (f"; the sustained load is one run of 8 clients for {seconds:g} s" if seconds else "")
        + ". *acks/s*: answers per second the clients got. *done*: from sending "
        "the command until its reply reached the response URL. *CPU*: CPU time the server "
        "spent per request, its worker process and the work after the ack included. "
        "*× Bolt*: Advocate's ack as a multiple of bare Bolt's (default runner, "
        "`process_before_response=False`, measured in the same run at the same load); "
        "*× inline*: of the inline floor's (the same app with `process_before_response=True`). "
        f"Targets (p99): ≤ {ACK_TARGETS['1']}× Bolt at 1 client, ≤ {ACK_RATIO_TARGET}× "
        "elsewhere, the sustained 8 clients included.",
        "",
        *targets(section),
        "",
        "#### Ack latency, by load",
        "",
    ]
    rows = []
    for name, server in BASELINE_NAMES.items():
        for label, r in section.get(name, {}).items():
            rows.append(ack_row("–", "appreciate", load_label(label), r, server))
    sustained = section.get("sustained", {})
    for name, server in BASELINE_NAMES.items():
        if name in sustained:
            rows.append(
                ack_row("–", "appreciate", sustained_label(seconds), sustained[name], server)
            )
    for backend, commands in section["advocate"].items():
        for command, by_load in commands.items():
            for label, r in by_load.items():
                rows.append(ack_row(backend, command, load_label(label), r))
        if backend in sustained.get("advocate", {}):
            r = sustained["advocate"][backend]
            rows.append(ack_row(backend, "appreciate", sustained_label(seconds), r))
    if "slow_slack" in section:
        slow = section["slow_slack"]
        label = f"8 clients, Slack API {slow['latency_s'] * 1000:.0f} ms"
        rows.append(ack_row(slow["backend"], "appreciate", label, slow))
    for backend, commands in section.get("in_process", {}).items():
        for command, r in commands.items():
            rows.append(ack_row(backend, command, "8 clients", r, "Advocate, work in-process"))
    lines += table(
        [
            "server",
            "database",
            "command",
            "load",
            "ack p50 ms",
            "ack p99 ms",
            "acks/s",
            "done p50 ms",
            "done p99 ms",
            "CPU ms/req",
            "p50 × Bolt",
            "p99 × Bolt",
            "p50 × inline",
            "p99 × inline",
            "p99 target met",
        ],
        rows,
    )
    errors = sum(
        r["errors"]
        for commands in section["advocate"].values()
        for by_load in commands.values()
        for r in by_load.values()
    )
    errors += sum(r["errors"] for r in sustained.get("advocate", {}).values())
    lines += ["", f"Requests to Advocate that did not get a 200: {errors}."]
    if "slack_rate" in section:
        lines += ["", *slack_rate(section["slack_rate"])]
    if "work" in section and "floor" in section["work"]:
        lines += ["", *work(section["work"], plan)]
    if sustained.get("advocate"):
        lines += ["", *lag(sustained, plan)]
    return lines


def targets(section: dict[str, Any]) -> list[str]:
    """One row per target and database: Advocate's figure, its floor's, the ratio, met."""
    rows: list[list[str]] = []
    sustained = section.get("sustained", {})
    paced = section.get("slack_rate", {})
    for backend, r in paced.get("advocate", {}).items():
        floor = paced["floor"]
        rows.append(
            [
                f"command → channel post p50 / p99, {paced['rate']:g}/s open loop",
                backend,
                f"{ms(r['posted_p50_ms'])} / {ms(r['posted_p99_ms'])} ms",
                f"{ms(floor['posted_p50_ms'])} / {ms(floor['posted_p99_ms'])} ms",
                times(r["ratio_posted_p99"]),
                f"p99 ≤ {POSTED_P99_TARGET:g}×",
                met(r["ratio_posted_p99"] <= POSTED_P99_TARGET),
            ]
        )
    work = section.get("work", {})
    burst = f"{section['plan']['requests']} commands, 8 clients"
    for backend, r in work.get("advocate", {}).items():
        if "posted_rps" not in r:
            continue
        floor = work["floor"]
        rows.append(
            [
                f"burst: channel posts/s, {burst}",
                backend,
                f"{r['posted_rps']:.1f}/s",
                f"{floor['posted_rps']:.1f}/s",
                times(r["ratio_posted_rps"]),
                f"≥ {POSTED_RPS_TARGET:g}×",
                met(r["ratio_posted_rps"] >= POSTED_RPS_TARGET),
            ]
        )
    for backend, r in work.get("advocate", {}).items():
        floor = work["floor"]
        rows.append(
            [
                f"CPU ms per processed `/appreciate`, {burst}",
                backend,
                f"{ms(r['server_cpu_ms'])} ms",
                f"{ms(floor['server_cpu_ms'])} ms",
                times(r["ratio_cpu"]),
                f"≤ {CPU_TARGET:g}×",
                met(r["ratio_cpu"] <= CPU_TARGET),
            ]
        )
    for backend, r in sustained.get("advocate", {}).items():
        seconds = sustained["seconds"]
        rows.append(
            [
                f"backlog emptied after {seconds:g} s of 8-client overload",
                backend,
                emptied_in(r["lag"]),
                "–",
                "–",
                f"< {seconds:g} s",
                met(drained_in_time(r["lag"], seconds)),
            ]
        )
    for label, floor in section.get("bolt", {}).items():
        target = ACK_TARGETS.get(label, ACK_RATIO_TARGET)
        for backend, commands in section["advocate"].items():
            r = commands["appreciate"][label]
            rows.append(ack_target(f"ack p99, {load_label(label)}", backend, r, floor, target))
    for backend, r in sustained.get("advocate", {}).items():
        label = f"ack p99, {sustained_label(sustained['seconds'])}"
        rows.append(ack_target(label, backend, r, sustained["bolt"], ACK_RATIO_TARGET))
    return [
        "#### Targets",
        "",
        "Advocate's figure, the floor's in the same run and their ratio. Command → channel "
        "post: from the command's planned sending until the fake Slack got its "
        "`chat.postMessage` in the channel, at a rate Slack sends. Burst and CPU: commands "
        "sent as fast as they are acked. The floor of these is the work floor (a Bolt app "
        "without a database making the same Web API calls). Backlog: it must empty in less "
        "time than the overload that built it lasted (60 s in the full run). Ack: the floor "
        "is bare Bolt.",
        "",
        *table(["target", "database", "Advocate", "floor", "ratio", "target", "met"], rows),
    ]


def ack_target(
    label: str, backend: str, r: dict[str, Any], floor: dict[str, Any], target: float
) -> list[str]:
    return [
        label,
        backend,
        f"{ms(r['p99_ms'])} ms",
        f"{ms(floor['p99_ms'])} ms",
        times(r["ratio_p99"]),
        f"≤ {target:g}×",
        met(r["ratio_p99"] <= target),
    ]


def emptied_in(drained: dict[str, Any]) -> str:
    """How long the backlog took to empty, or how much was left when the wait gave up."""
    if not drained["still_pending"]:
        return f"{drained['drain_s']:.1f} s"
    left = f"> {drained['drain_s']:.0f} s ({drained['still_pending']:,} left)"
    if "projected_drain_s" in drained:
        left += f", ~{drained['projected_drain_s']:.0f} s at that rate"
    return left


def drained_in_time(drained: dict[str, Any], seconds: float) -> bool:
    return not drained["still_pending"] and drained["drain_s"] < seconds


def sustained_label(seconds: float) -> str:
    return f"8 clients, {seconds:g} s sustained"


def ack_row(
    backend: str, command: str, load: str, r: dict[str, Any], server: str = "Advocate"
) -> list[str]:
    target = ACK_TARGETS.get(load.split(" ")[0], ACK_RATIO_TARGET)
    baseline = server in BASELINE_NAMES.values()
    verdict = "–" if baseline else f"≤ {target}×: {met(r['ratio_p99'] <= target)}"
    return [
        server,
        backend,
        "/appreciate" + (" stats" if command == "stats" else " @a @b …"),
        load,
        ms(r["p50_ms"]),
        ms(r["p99_ms"]),
        f"{r['throughput_rps']:.0f}",
        ms(r.get("done_p50_ms", NAN)),
        ms(r.get("done_p99_ms", NAN)),
        ms(r["server_cpu_ms"]),
        ratio(r.get("ratio_p50", NAN)),
        ratio(r.get("ratio_p99", NAN)),
        ratio(r.get("inline_ratio_p50", NAN)),
        ratio(r.get("inline_ratio_p99", NAN)),
        verdict,
    ]


def ratio(value: float) -> str:
    return "–" if value != value else f"{value:.1f}" if value >= 0.95 else f"{value:.2f}"


def slack_rate(section: dict[str, Any]) -> list[str]:
    floor = section["floor"]
    lines = [
        f"#### Command to channel post at {section['rate']:g} commands/s",
        "",
        f"`/appreciate @a @b …` sent on a schedule, {section['rate']:g} per second for "
        f"{section['seconds']:g} s (open loop), to Advocate and to the work floor. *in the "
        "channel*: from the command's planned sending until the fake Slack got the "
        "`chat.postMessage` to the channel that names its giver. *× floor*: Advocate's "
        "figure as a multiple of the work floor's.",
        "",
    ]
    rows = [posted_row("work floor", "–", floor)]
    rows += [posted_row("Advocate", backend, r) for backend, r in section["advocate"].items()]
    lines += table(
        [
            "server",
            "database",
            "commands",
            "ack p50 ms",
            "ack p99 ms",
            "in the channel p50 ms",
            "p99 ms",
            "max ms",
            "p50 × floor",
            "p99 × floor",
        ],
        rows,
    )
    return lines


def posted_row(server: str, backend: str, r: dict[str, Any]) -> list[str]:
    return [
        server,
        backend,
        str(r["requests_per_run"]),
        ms(r["p50_ms"]),
        ms(r["p99_ms"]),
        ms(r["posted_p50_ms"]),
        ms(r["posted_p99_ms"]),
        ms(r["posted_max_ms"]),
        ratio(r.get("ratio_posted_p50", 1.0)),
        ratio(r.get("ratio_posted_p99", 1.0)),
    ]


def work(section: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    floor = section["floor"]
    lines = [
        f"#### Work throughput: a burst of {plan['requests']} `/appreciate @a @b …` from 8 clients",
        "",
        "Sent as fast as they are acked, every one waited for; medians over runs. "
        "*posts/s*: channel posts per second, from the first command sent to the last post "
        "in the channel. *processed/s*: replies at the response URL per second, from the "
        "first request sent to the last reply. *CPU*: the server's (and its worker's) CPU ms "
        "per processed request, its ack included. The *work floor* is a Bolt app without a "
        "database that acks, then makes the same Web API calls (bench/bare_bolt.py `--work`). "
        "*× floor*: Advocate's figure as a multiple of the floor's.",
        "",
    ]
    rows = [work_row("work floor", "–", floor, None)]
    for backend, r in section["advocate"].items():
        rows.append(work_row("Advocate", backend, r, floor))
    lines += table(
        [
            "server",
            "database",
            "posts/s",
            "posts/s × floor",
            "processed/s",
            "CPU ms per processed",
            "processed/s × floor",
            "CPU × floor",
            "fake Slack CPU ms/req",
            "Web API calls per request",
        ],
        rows,
    )
    return lines


def work_row(
    server: str, backend: str, r: dict[str, Any], floor: dict[str, Any] | None
) -> list[str]:
    calls = r.get("api_calls_per_request", {})
    posted = r.get("posted_rps", NAN)
    return [
        server,
        backend,
        "–" if posted != posted else f"{posted:.1f}",
        "1" if floor is None else ratio(posted / floor.get("posted_rps", NAN)),
        f"{r['done_rps']:.1f}",
        ms(r["server_cpu_ms"]),
        "1" if floor is None else ratio(r["done_rps"] / floor["done_rps"]),
        "1" if floor is None else ratio(r["server_cpu_ms"] / floor["server_cpu_ms"]),
        ms(r["fake_slack_cpu_ms"]),
        ", ".join(f"{method} {count:g}" for method, count in calls.items()) or "–",
    ]


def lag(sustained: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    seconds = sustained["seconds"]
    lines = [
        f"#### Lag after {seconds:g} s of 8-client overload",
        "",
        f"8 clients send `/appreciate @a @b …` for {seconds:g} s; Advocate acks them faster "
        "than it works, so a backlog of stored requests (`slack_requests` rows still "
        "pending) builds up. *backlog*: pending when the load stopped; *emptied in*: from "
        f"then until none was pending (target: < {seconds:g} s, the load's length). "
        "*processed/s during load*: requests done while the "
        "load ran. *done*: from sending until the reply reached the response URL. *modal*: "
        f'the global shortcut "Appreciate someone" sent every {plan["modal_every"]:g} s '
        "during the load, from sending until the fake Slack got `views.open` for its "
        "trigger (past 2.5 s the app tells the person to try again instead: not opened).",
        "",
    ]
    rows = []
    for backend, r in sustained["advocate"].items():
        drained, modals = r["lag"], r["modals"]
        rows.append(
            [
                backend,
                f"{r['n']:,}",
                f"{r['throughput_rps']:.0f}",
                f"{drained['processed_during_load_rps']:.1f}",
                f"{drained['backlog_at_end']:,}",
                emptied_in(drained),
                met(drained_in_time(drained, seconds)),
                f"{drained['drain_rps']:.1f}",
                seconds_of(r.get("done_p50_ms", NAN)),
                seconds_of(r.get("done_max_ms", NAN)),
                f"{modals['opened']} / {modals['sent']}",
                ms(modals["open_p50_ms"]),
                ms(modals["open_max_ms"]),
                ms(modals["ack_max_ms"]),
            ]
        )
    lines += table(
        [
            "database",
            "acks",
            "acks/s",
            "processed/s during load",
            "backlog",
            "emptied in",
            f"< {seconds:g} s",
            "processed/s after",
            "done p50",
            "done max",
            "modals opened",
            "modal p50 ms",
            "modal max ms",
            "shortcut ack max ms",
        ],
        rows,
    )
    return lines


def seconds_of(milliseconds: float) -> str:
    return "–" if milliseconds != milliseconds else f"{milliseconds / 1000:.1f} s"


def history(section: dict[str, Any]) -> list[str]:
    sizes = section["sizes"]
    target = section["target_ms"]
    lines = [
        "### 2. Digest and leaderboard vs history size",
        "",
        f"{section['people']:,} people, appreciations over three years up to "
        f"{section['now']}; digest of week {section['digest_week']}; median ms over runs. "
        f"Target: under {target} ms at 1M on PostgreSQL.",
    ]
    for backend, data in section["backends"].items():
        measured = [s for s in sizes if str(s) in data["sizes"]]
        cases = list(next(iter(data["sizes"].values()))["timings"]) if measured else []
        rows = []
        for case in cases:
            row = [f"`{case}`"]
            for size in measured:
                timing = data["sizes"][str(size)]["timings"][case]
                runs = "" if timing["runs"] > 1 else " (1 run)"
                row.append(ms(timing["median_ms"]) + runs)
            if "plans" in data:
                row.append(str(data["plans"][case]["statements"]))
            if backend == "postgres" and str(1_000_000) in data["sizes"]:
                row.append(met(data["sizes"]["1000000"]["timings"][case]["median_ms"] < target))
            rows.append(row)
        header = ["query", *[f"{s:,}" for s in measured]]
        if "plans" in data:
            header.append(f"SQL statements at {data['explained_at']:,}")
        if backend == "postgres" and "1000000" in data["sizes"]:
            header.append(f"< {target} ms at 1M")
        seeded = ", ".join(
            f"{s:,}: {data['sizes'][str(s)]['seed_seconds']:.0f} s" for s in measured
        )
        title = HISTORY_TITLES.get(backend, backend)
        lines += ["", f"**{title}** (time to grow the history to each size: {seeded})", ""]
        lines += table(header, rows)
        if data.get("skipped"):
            skipped = ", ".join(f"{s:,}" for s in data["skipped"])
            lines += ["", f"Not measured on {backend}: {skipped} (see --sqlite-cap)."]
    lines += ["", *plans(section)]
    return lines


def plans(section: dict[str, Any]) -> list[str]:
    lines = []
    for backend, data in section["backends"].items():
        if "plans" not in data:
            continue
        lines += [
            "<details>",
            f"<summary>Query plans: {HISTORY_TITLES.get(backend, backend)}, "
            f"{data['explained_at']:,} appreciations</summary>",
            "",
        ]
        for case, explained in data["plans"].items():
            lines += [f"**`{case}`**", ""]
            for statement in explained["plans"]:
                lines += ["```sql", statement["sql"], "```", "```text", statement["plan"], "```"]
            lines.append("")
        lines.append("</details>")
    return lines


def checkins(section: dict[str, Any]) -> list[str]:
    target_ms = section["target_seconds"] * 1000
    lines = [
        "### 3. Check-in fan-out",
        "",
        f"`queue_checkins` for {section['people']:,} people all due at {section['instant']}, "
        f"with {section.get('outbox_history_weeks', 0)} earlier weeks of check-ins in the "
        "outbox; median ms. One tick's outbox batch sent to the local fake Slack.",
        "",
    ]
    rows = []
    pace: dict[str, Any] = {}
    for backend, data in section["backends"].items():
        queueing, sending, pace = data["queueing"], data["sending"], data["pace"]
        rows.append(
            [
                backend,
                ms(queueing["first"]["median_ms"]),
                met(queueing["first"]["median_ms"] < target_ms),
                ms(queueing["again"]["median_ms"]),
                f"{sending['opening']['seconds']:.2f} s",
                f"{sending['known']['seconds']:.2f} s",
            ]
        )
    lines += table(
        [
            "database",
            "queue all (first run) ms",
            "< 1 s",
            "again, all queued ms",
            f"batch of {sending['batch']}, first DMs",
            f"batch of {sending['batch']}, DMs known",
        ],
        rows,
    )
    if pace:
        lines += [
            "",
            f"Outbox pace: at most {sending['batch']} messages per "
            f"{sending['interval_seconds']} s tick = {pace['outbox_per_minute']:.0f}/min, so "
            f"{section['people']:,} check-ins need {pace['outbox_minutes_for_all']:.1f} min, "
            "the first week too: a first DM is posted to the person's user id, so no "
            "`conversations.open` (Tier 3) is needed.",
        ]
    return lines


def home(section: dict[str, Any]) -> list[str]:
    target = section["target_ms"]
    lines = [
        "### 4. App Home",
        "",
        f"A person with {section['received']:,} appreciations received and "
        f"{section['given']:,} given; median ms; views.publish goes to the local fake Slack.",
        "",
    ]
    rows = [
        [
            backend,
            ms(data["publish_home"]["median_ms"]),
            met(data["publish_home"]["median_ms"] < target),
            ms(data["publish_home_with_lookup"]["median_ms"]),
            f"{data['home_view']['median_ms']:.2f}",
        ]
        for backend, data in section["backends"].items()
    ]
    lines += table(
        [
            "database",
            "publish_home ms",
            f"< {target} ms",
            "publish_home + users.info ms",
            "home_view alone ms",
        ],
        rows,
    )
    return lines


def memory(section: dict[str, Any]) -> list[str]:
    startup, rss = section["startup"], section["memory"]
    target = section["target_mb"]
    lines = [
        "### 5. Start-up and memory of `advocate run --http` (SQLite)",
        "",
        f"Start-up: median of {startup['starts']} start(s) until /healthz answers 200. "
        f"Memory: burst of {rss['requests']:,} requests "
        f"(half /appreciate, half stats, 8 clients) took {rss['burst_seconds']:.0f} s "
        "with its work. The server and its worker process share the pages of the code "
        "both load: each one's resident set size (RSS) counts them in full, the sum of "
        "their proportional set sizes (PSS) once. The target applies to that sum.",
        "",
    ]
    lines += table(
        [
            "start-up, new database",
            "start-up, migrated",
        ],
        [[f"{startup['new_database_s']:.2f} s", f"{startup['migrated_database_s']:.2f} s"]],
    )
    lines.append("")
    rows = []
    for label, key in (("idle", "idle"), ("peak in burst", "peak"), ("after burst", "after")):
        figures = rss[key]
        rows.append(
            [
                label,
                f"{figures['rss_mb']:.0f} MB",
                f"{figures['rss_children_mb']:.0f} MB",
                f"{figures['pss_total_mb']:.0f} MB",
                met(figures["pss_total_mb"] < target),
            ]
        )
    lines += table(
        ["", "server RSS", "worker RSS", "both, PSS", f"< {target} MB"],
        rows,
    )
    return lines


def recap(section: dict[str, Any]) -> list[str]:
    rows = [
        [
            backend,
            ms(result["recaps"]["median_ms"]),
            ms(result["floor"]["median_ms"]),
            f"{result['ratio_to_floor']:.1f}×",
            f"{result['people_with_a_recap']:,}",
            met(result["within_target"]),
        ]
        for backend, result in section["backends"].items()
    ]
    return [
        f"### Year-end recaps: {section['people']:,} people, {section['appreciations']:,} "
        f"appreciations in the year (target {section['target_ms']:,} ms)",
        "",
        *table(
            ["backend", "recaps, median ms", "floor, median ms", "ratio", "with a recap", "met"],
            rows,
        ),
    ]


def retention(section: dict[str, Any]) -> list[str]:
    days = section["message_days"]
    lines = [
        f"### 7. Retention after a year: {section['people']:,} people, "
        f"{section['appreciations_a_day']:,} appreciations a day",
        "",
        f"A year of messages up to {section['end']}, all sent and none erased yet, then "
        f"`retention.prune(db, now, {days})` every {section['tick_seconds'] / 60:g} minutes "
        f"of simulated time, {section['ticks']:,} calls, the day's new rows written at its "
        f"first tick. Each call handles at most {section['batch']:,} messages; the backlog "
        "is gone at the first call that finds fewer. ms per call.",
        "",
    ]
    rows = []
    for backend, data in section["backends"].items():
        calls = data["calls"]
        backlog, steady, every = calls["backlog"], calls["steady"], calls["all"]
        hours = calls["backlog_calls"] * section["tick_seconds"] / 3600
        rows.append(
            [
                backend,
                ms(calls["first"]["ms"]),
                f"{calls['backlog_calls']:,} ({hours:.1f} h)",
                ms(backlog["p50_ms"]),
                ms(backlog["p99_ms"]),
                ms(backlog["max_ms"]),
                ms(steady.get("p50_ms", NAN)),
                ms(steady.get("p99_ms", NAN)),
                ms(steady.get("max_ms", NAN)),
                ms(every["p50_ms"]),
                ms(every["p99_ms"]),
                ms(every["max_ms"]),
            ]
        )
    lines += table(
        [
            "database",
            "first call",
            "backlog calls",
            "backlog p50",
            "backlog p99",
            "backlog max",
            "then p50",
            "then p99",
            "then max",
            "all p50",
            "all p99",
            "all max",
        ],
        rows,
    )
    for backend, data in section["backends"].items():
        first = data["calls"]["first"]
        lines += [
            "",
            f"{backend}: the first call also deleted {first['daily counts deleted']:,} daily "
            f"counts, {first['nudges deleted']:,} nudges and {first['oauth states deleted']:,} "
            "OAuth states, each kind in one statement.",
        ]
    for backend, data in section["backends"].items():
        lines += ["", *retention_sizes(backend, data)]
    lines += ["", *retention_plans(section)]
    return lines


def retention_sizes(backend: str, data: dict[str, Any]) -> list[str]:
    before, after, floor = data["before"], data["after"], data["floor"]
    compacted = data.get("compacted") or {}
    rows = []
    for name, was in before["tables"].items():
        now = after["tables"][name]
        row = [
            f"`{name}`",
            f"{was['rows']:,}",
            f"{now['rows']:,}",
            f"{floor[name]:,}" if name in floor else "–",
            f"{now['rows'] - floor[name]:,}" if name in floor else "–",
            times(was["rows"] / now["rows"]) if now["rows"] else "–",
            megabytes(was["bytes"]),
            megabytes(now["bytes"]),
        ]
        if compacted:
            row.append(megabytes(compacted[name]) if name in compacted else "–")
        rows.append(row)
    header = [
        "table",
        "rows before",
        "rows after",
        "floor",
        "above floor",
        "before / after",
        "MB before",
        "MB after",
    ]
    if compacted:
        header.append("MB after VACUUM FULL")
    title = {"sqlite": "SQLite", "postgres": "PostgreSQL"}.get(backend, backend)
    total = (
        f"database {megabytes(before['database_bytes'])} MB before, "
        f"{megabytes(after['database_bytes'])} MB after"
    )
    if "free_bytes" in after:
        total += f", of which {megabytes(after['free_bytes'])} MB free pages"
    upkeep = data["week"]["upkeep"]
    passes = ", ".join(f"{what} {n}" for what, n in upkeep["passes"].items()) or "none"
    added = data["week"]["added"]
    later = data["a_month_later"]
    then = later["calls"]["steady"]
    month = (
        f"A month later ({later['at']}, every ask closed by then), "
        f"{later['calls']['backlog_calls']:,} calls worked off the month's messages, then "
        f"p50 {ms(then.get('p50_ms', NAN))} ms, p99 {ms(then.get('p99_ms', NAN))} ms, max "
        f"{ms(then.get('max_ms', NAN))} ms per call; erased keys kept "
        f"{later['erased_keys_left']:,}, keys of closed asks left "
        f"{later['ask_keys_left']:,} (the rule: 0)."
    )
    return [
        f"**{title}**: {total}. MB: the pages each table and its indexes use "
        + ("(`pg_total_relation_size`)" if compacted else "(`dbstat`)")
        + f". The days ticked added {added.get('outbox', 0):,} messages; upkeep between ticks "
        f"(untimed): {passes}.",
        "",
        *table(header, rows),
        "",
        month,
    ]


def times(value: float) -> str:
    return f"{value:,.0f}×" if value >= 100 else f"{ratio(value)}×"


def megabytes(size: float) -> str:
    value = size / 1024 / 1024
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def retention_plans(section: dict[str, Any]) -> list[str]:
    lines = []
    for backend, data in section["backends"].items():
        if not data.get("plans"):
            continue
        lines += [
            "<details>",
            f"<summary>Query plans of the last call: {backend}</summary>",
            "",
        ]
        for statement in data["plans"]:
            lines += ["```sql", statement["sql"], "```", "```text", statement["plan"], "```"]
        lines += ["", "</details>"]
    return lines


def insights(section: dict[str, Any]) -> list[str]:
    rows = []
    for backend, result in section["backends"].items():
        for case, summary in result["pages"].items():
            rows.append(
                [
                    backend,
                    f"{result['appreciations']:,}",
                    case,
                    ms(summary["median_ms"]),
                    ms(result["floor"]["median_ms"]),
                    f"{result['ratio_to_floor'][case]:.1f}×",
                    met(summary["median_ms"] <= result["target_ms"]),
                ]
            )
    return [
        f"### 8. The insights page: {section['people']:,} people in {section['teams']} teams, "
        "20,000 asks (target 500 ms on PostgreSQL at 1,000,000; 1 s on SQLite at 100,000)",
        "",
        *table(
            ["backend", "appreciations", "page", "median", "floor", "ratio", "met"],
            rows,
        ),
        "",
        *(
            f"- {backend}: the first page of the year, with no week worked out yet, worked out "
            f"{result['cold']['weeks']} weeks in {ms(result['cold']['ms'])} ms."
            for backend, result in section["backends"].items()
            if "cold" in result
        ),
    ]

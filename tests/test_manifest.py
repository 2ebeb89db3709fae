"""manifest.json: valid for Slack, and in step with the code that answers it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.listeners import asks, shortcuts, steps
from bot.slack.scopes import BOT_SCOPES
from tests.support.blockkit import assert_valid_manifest

MANIFEST_PATH = Path(__file__).resolve().parents[1] / "manifest.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return data


def test_manifest_is_valid_against_the_v2_schema(manifest: dict[str, Any]) -> None:
    # Version 2 is the one whose schema declares custom steps' parameters as objects.
    assert manifest["_metadata"]["major_version"] == 2
    assert_valid_manifest(manifest)


def test_custom_steps_are_declared_with_their_contract(manifest: dict[str, Any]) -> None:
    functions = manifest["functions"]
    assert set(functions) == set(steps.STEPS) == {"appreciate", "ask_for_commitment"}
    assert manifest["settings"]["function_runtime"] == "remote"
    assert manifest["settings"]["org_deploy_enabled"] is True
    assert "function_executed" in manifest["settings"]["event_subscriptions"]["bot_events"]

    def types(parameters: dict[str, Any]) -> dict[str, str]:
        return {name: p["type"] for name, p in parameters["properties"].items()}

    appreciate = functions["appreciate"]
    assert appreciate["title"] == "Appreciate someone"
    assert types(appreciate["input_parameters"]) == {
        "giver": "slack#/types/user_id",
        "recipients": "array",
        "reason": "string",
        "channel": "slack#/types/channel_id",
        "value": "string",
    }
    recipients = appreciate["input_parameters"]["properties"]["recipients"]
    assert recipients["items"] == {"type": "slack#/types/user_id"}
    assert set(appreciate["input_parameters"]["required"]) == {"giver", "recipients", "reason"}
    assert types(appreciate["output_parameters"]) == {"permalink": "string"}

    ask = functions["ask_for_commitment"]
    assert ask["title"] == "Ask for a commitment"
    assert types(ask["input_parameters"]) == {
        "asker": "slack#/types/user_id",
        "helper": "slack#/types/user_id",
        "request": "string",
        "channel": "slack#/types/channel_id",
        "due_date": "slack#/types/date",
        "complete_when": "string",
    }
    assert ask["input_parameters"]["properties"]["complete_when"]["enum"] == ["committed", "done"]
    assert set(ask["input_parameters"]["required"]) == {"asker", "helper", "request", "channel"}
    assert types(ask["output_parameters"]) == {
        "committed_by": "slack#/types/date",
        "helper": "slack#/types/user_id",
    }


@pytest.mark.parametrize("command", ["/appreciate", "/ask", "/listen"])
def test_slash_command_is_declared_with_escaped_mentions(
    manifest: dict[str, Any], command: str
) -> None:
    declared = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert command in declared
    # Without should_escape, mentions arrive as plain "@ana" and cannot be parsed.
    assert declared[command]["should_escape"] is True


def test_shortcuts_match_the_listener_callback_ids(manifest: dict[str, Any]) -> None:
    declared = {s["callback_id"]: s["type"] for s in manifest["features"]["shortcuts"]}
    assert declared == {
        shortcuts.APPRECIATE_SOMEONE: "global",
        shortcuts.APPRECIATE_MESSAGE: "message",
        asks.ASK_FOR_COMMITMENT: "message",
    }
    assert (
        shortcuts.APPRECIATE_SOMEONE,
        shortcuts.APPRECIATE_MESSAGE,
        asks.ASK_FOR_COMMITMENT,
    ) == ("appreciate_someone", "appreciate_message", "ask_for_commitment")


def test_home_tab_is_enabled(manifest: dict[str, Any]) -> None:
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_bot_events_include_those_the_app_handles(manifest: dict[str, Any]) -> None:
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events >= {"app_home_opened", "app_uninstalled", "tokens_revoked", "user_change"}


def test_bot_scopes_are_exactly_those_the_code_uses(manifest: dict[str, Any]) -> None:
    declared = manifest["oauth_config"]["scopes"]["bot"]
    assert len(declared) == len(set(declared)), "a scope is listed twice"
    assert set(declared) == set(BOT_SCOPES)


def test_interactivity_is_enabled(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_every_request_url_points_at_slack_events(manifest: dict[str, Any]) -> None:
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls.append(manifest["settings"]["event_subscriptions"]["request_url"])
    urls.append(manifest["settings"]["interactivity"]["request_url"])
    assert len(urls) == len(manifest["features"]["slash_commands"]) + 2
    for url in urls:
        assert url.startswith("https://"), url
        assert url.endswith("/slack/events"), url


def test_sign_in_with_slack_is_declared(manifest: dict[str, Any]) -> None:
    from bot.signin import REDIRECT_PATH, SCOPES

    oauth = manifest["oauth_config"]
    assert set(oauth["scopes"]["user"]) == set(SCOPES)
    redirects = oauth["redirect_urls"]
    assert any(url.endswith(REDIRECT_PATH) for url in redirects)
    # Without a redirect_uri, an install goes to the first URL: the install's own.
    assert redirects[0].endswith("/slack/oauth_redirect")
    assert all(url.startswith("https://") for url in redirects)

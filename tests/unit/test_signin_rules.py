"""Sign-in's rules that need no Slack: where people may be sent back to, the redirect URL,
and when the cookie is Secure."""

from __future__ import annotations

import pytest

from bot.signin import local_path, redirect_uri


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/insights?period=quarter&team=S1", "/insights?period=quarter&team=S1"),
        ("/insights.csv", "/insights.csv"),
        ("https://evil.example/insights", "/insights"),
        ("//evil.example/insights", "/insights"),
        ("/\\evil.example", "/insights"),
        ("javascript:alert(1)", "/insights"),
        ("/insights\r\nSet-Cookie: x=1", "/insights"),
        ("", "/insights"),
    ],
)
def test_only_a_path_of_this_app_is_returned_to(asked: str, kept: str) -> None:
    assert local_path(asked) == kept


def test_the_redirect_url_follows_the_host_and_a_proxy_s_scheme() -> None:
    environ = {"HTTP_HOST": "advocate.example.com", "wsgi.url_scheme": "http"}
    assert redirect_uri(environ) == "http://advocate.example.com/slack/signin_redirect"
    environ["HTTP_X_FORWARDED_PROTO"] = "https"
    assert redirect_uri(environ) == "https://advocate.example.com/slack/signin_redirect"
    environ["HTTP_X_FORWARDED_PROTO"] = "gopher"
    assert redirect_uri(environ) == "http://advocate.example.com/slack/signin_redirect"


def test_a_malformed_host_is_not_echoed() -> None:
    environ = {
        "HTTP_HOST": "evil.example/path?x=",
        "SERVER_NAME": "advocate.internal",
        "SERVER_PORT": "3000",
        "wsgi.url_scheme": "http",
    }
    assert redirect_uri(environ) == "http://advocate.internal:3000/slack/signin_redirect"

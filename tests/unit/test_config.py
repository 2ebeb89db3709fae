"""Settings: read from the environment and `.env`, with errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings


def test_defaults_when_nothing_is_set() -> None:
    assert Settings.from_mapping({}) == Settings(
        slack_bot_token=None,
        slack_signing_secret=None,
        slack_app_token=None,
        slack_client_id=None,
        slack_client_secret=None,
        slack_api_url="https://slack.com/api/",
        database_url="sqlite:///advocate.db",
        port=3000,
        log_level="INFO",
        digest_channel=None,
        digest_day="fri",
        digest_time="16:00",
        timezone="UTC",
        checkin_day="mon",
        checkin_time="09:30",
        daily_limit=10,
        values=(),
        admins=(),
        retention_days=30,
        message_retention_days=30,
        encryption_key=None,
    )


def test_blank_values_count_as_unset() -> None:
    blank = {name: "  " for name in ("PORT", "ADVOCATE_TIMEZONE", "SLACK_BOT_TOKEN", "LOG_LEVEL")}
    assert Settings.from_mapping(blank) == Settings.from_mapping({})


def test_every_variable_is_read() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_CLIENT_ID": "123.456",
        "SLACK_CLIENT_SECRET": "client-secret",
        "SLACK_API_URL": "http://localhost:9000/api/",
        "DATABASE_URL": " postgresql://u:p@db/advocate ",
        "PORT": "8080",
        "LOG_LEVEL": "debug",
        "ADVOCATE_DIGEST_CHANNEL": "C0123",
        "ADVOCATE_DIGEST_DAY": "Thursday",
        "ADVOCATE_DIGEST_TIME": "9:05",
        "ADVOCATE_TIMEZONE": "Europe/Paris",
        "ADVOCATE_CHECKIN_DAY": "TUE",
        "ADVOCATE_CHECKIN_TIME": "23:59",
        "ADVOCATE_DAILY_LIMIT": "3",
        "ADVOCATE_VALUES": "#Teamwork, ownership,,TEAMWORK , #Customer-First",
        "ADVOCATE_ADMINS": "U1, U2,,U1",
        "ADVOCATE_RETENTION_DAYS": "0",
        "ADVOCATE_MESSAGE_RETENTION_DAYS": "7",
        "ADVOCATE_ENCRYPTION_KEY": "key==",
    }
    assert Settings.from_mapping(env) == Settings(
        slack_bot_token="xoxb-1",
        slack_signing_secret="secret",
        slack_app_token="xapp-1",
        slack_client_id="123.456",
        slack_client_secret="client-secret",
        slack_api_url="http://localhost:9000/api/",
        database_url="postgresql://u:p@db/advocate",
        port=8080,
        log_level="DEBUG",
        digest_channel="C0123",
        digest_day="thu",
        digest_time="09:05",
        timezone="Europe/Paris",
        checkin_day="tue",
        checkin_time="23:59",
        daily_limit=3,
        values=("teamwork", "ownership", "customer-first"),
        admins=("U1", "U2"),
        retention_days=0,
        message_retention_days=7,
        encryption_key="key==",
    )


def test_admin_ids_keep_their_case() -> None:
    assert Settings.from_mapping({"ADVOCATE_ADMINS": "U0ABC,W0DEF"}).admins == ("U0ABC", "W0DEF")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:9000/api", "http://localhost:9000/api/"),
        ("http://localhost:9000/api/", "http://localhost:9000/api/"),
    ],
)
def test_slack_api_url_always_ends_with_a_slash(url: str, expected: str) -> None:
    assert Settings.from_mapping({"SLACK_API_URL": url}).slack_api_url == expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("ADVOCATE_DIGEST_DAY", "funday"),
        ("ADVOCATE_DIGEST_DAY", "fr"),
        ("ADVOCATE_CHECKIN_DAY", "1"),
        ("ADVOCATE_DIGEST_TIME", "25:00"),
        ("ADVOCATE_DIGEST_TIME", "24:00"),
        ("ADVOCATE_DIGEST_TIME", "16"),
        ("ADVOCATE_DIGEST_TIME", "4pm"),
        ("ADVOCATE_CHECKIN_TIME", "9:60"),
        ("ADVOCATE_CHECKIN_TIME", "09:5"),
        ("ADVOCATE_TIMEZONE", "Mars/Olympus_Mons"),
        ("ADVOCATE_TIMEZONE", "Europe/Pariss"),
        ("ADVOCATE_TIMEZONE", "../../etc/passwd"),
        ("ADVOCATE_DAILY_LIMIT", "ten"),
        ("ADVOCATE_DAILY_LIMIT", "2.5"),
        ("ADVOCATE_DAILY_LIMIT", "0"),
        ("ADVOCATE_DAILY_LIMIT", "101"),
        ("ADVOCATE_DAILY_LIMIT", "-1"),
        ("ADVOCATE_RETENTION_DAYS", "-1"),
        ("ADVOCATE_RETENTION_DAYS", "a month"),
        ("ADVOCATE_MESSAGE_RETENTION_DAYS", "-1"),
        ("PORT", "http"),
        ("PORT", "0"),
        ("PORT", "65536"),
    ],
)
def test_malformed_value_raises_config_error_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_mapping({name: raw})
    assert name in str(error.value)
    assert raw.strip() in str(error.value)


@pytest.mark.parametrize(
    ("name", "raw", "attribute", "expected"),
    [
        ("ADVOCATE_DAILY_LIMIT", "1", "daily_limit", 1),
        ("ADVOCATE_DAILY_LIMIT", "100", "daily_limit", 100),
        ("PORT", "1", "port", 1),
        ("PORT", "65535", "port", 65535),
        ("ADVOCATE_DIGEST_TIME", "0:00", "digest_time", "00:00"),
        ("ADVOCATE_DIGEST_TIME", "23:59", "digest_time", "23:59"),
        ("ADVOCATE_DIGEST_DAY", "sunday", "digest_day", "sun"),
        ("ADVOCATE_RETENTION_DAYS", "3650", "retention_days", 3650),
    ],
)
def test_values_at_the_edges_of_the_allowed_range_are_accepted(
    name: str, raw: str, attribute: str, expected: object
) -> None:
    assert getattr(Settings.from_mapping({name: raw}), attribute) == expected


@pytest.mark.parametrize("raw", ["monthly", "Fridge"])
def test_word_that_only_starts_like_a_weekday_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="ADVOCATE_DIGEST_DAY"):
        Settings.from_mapping({"ADVOCATE_DIGEST_DAY": raw})


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def test_env_file_is_read_and_the_real_environment_wins(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path,
        "ADVOCATE_TIMEZONE=Europe/Paris\nADVOCATE_DAILY_LIMIT=5\n# a comment\nEMPTY_KEY\n",
    )
    settings = Settings.from_env(environ={"ADVOCATE_DAILY_LIMIT": "7"}, env_file=env_file)
    assert settings.timezone == "Europe/Paris"
    assert settings.daily_limit == 7


def test_blank_real_variable_overrides_env_file_back_to_the_default(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "ADVOCATE_DAILY_LIMIT=5\n")
    settings = Settings.from_env(environ={"ADVOCATE_DAILY_LIMIT": ""}, env_file=env_file)
    assert settings.daily_limit == 10


@pytest.mark.parametrize("env_file", [None, "missing.env"])
def test_missing_or_no_env_file_uses_only_the_environment(
    tmp_path: Path, env_file: str | None
) -> None:
    path = tmp_path / env_file if env_file else None
    settings = Settings.from_env(environ={"PORT": "4000"}, env_file=path)
    assert settings == Settings.from_mapping({"PORT": "4000"})


def test_malformed_value_in_env_file_names_the_variable(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "ADVOCATE_CHECKIN_TIME=noon\n")
    with pytest.raises(ConfigError, match="ADVOCATE_CHECKIN_TIME"):
        Settings.from_env(environ={}, env_file=env_file)


def test_require_names_the_first_missing_setting() -> None:
    settings = Settings.from_mapping({"SLACK_BOT_TOKEN": "xoxb-1"})
    settings.require("slack_bot_token")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        settings.require("slack_bot_token", "slack_signing_secret", "slack_app_token")


@pytest.mark.parametrize(
    ("env", "socket", "oauth", "sqlite"),
    [
        ({}, False, False, True),
        ({"SLACK_APP_TOKEN": "xapp-1"}, True, False, True),
        ({"SLACK_CLIENT_ID": "1.2"}, False, False, True),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"}, False, True, True),
        # A bot token as well: token mode, the client id and secret serve sign-in only.
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1"},
            False,
            False,
            True,
        ),
        ({"DATABASE_URL": "postgresql://db/advocate"}, False, False, False),
    ],
)
def test_modes_follow_the_settings(
    env: dict[str, str], socket: bool, oauth: bool, sqlite: bool
) -> None:
    settings = Settings.from_mapping(env)
    assert (settings.socket_mode, settings.oauth_mode, settings.uses_default_sqlite) == (
        socket,
        oauth,
        sqlite,
    )


def test_encryption_key_is_not_shown_in_repr() -> None:
    assert "s3cret-key" not in repr(
        Settings.from_mapping({"ADVOCATE_ENCRYPTION_KEY": "s3cret-key"})
    )


def test_company_value_that_cannot_be_typed_as_a_tag_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"ADVOCATE_VALUES.*customer first"):
        Settings.from_mapping({"ADVOCATE_VALUES": "teamwork,customer first"})


def test_full_weekday_names_are_accepted() -> None:
    assert Settings.from_mapping({"ADVOCATE_DIGEST_DAY": "Thursday"}).digest_day == "thu"


def test_reactions_default_to_raised_hands_and_empty_turns_them_off() -> None:
    assert Settings.from_mapping({}).reactions == ("raised_hands",)
    assert Settings.from_mapping({"ADVOCATE_REACTIONS": ""}).reactions == ()
    chosen = Settings.from_mapping({"ADVOCATE_REACTIONS": ":Tada:, raised_hands,,tada"})
    assert chosen.reactions == ("tada", "raised_hands")
    with pytest.raises(ConfigError, match="ADVOCATE_REACTIONS"):
        Settings.from_mapping({"ADVOCATE_REACTIONS": "raised hands"})


def test_recap_date_defaults_to_december_10_and_empty_turns_recaps_off() -> None:
    assert Settings.from_mapping({}).recap_date == (12, 10)
    assert Settings.from_mapping({"ADVOCATE_RECAP_DATE": ""}).recap_date is None
    assert Settings.from_mapping({"ADVOCATE_RECAP_DATE": "01-05"}).recap_date == (1, 5)
    for wrong in ("12/10", "13-01", "12-32", "1-5"):
        with pytest.raises(ConfigError, match="ADVOCATE_RECAP_DATE"):
            Settings.from_mapping({"ADVOCATE_RECAP_DATE": wrong})


def test_metrics_are_off_until_metrics_port_names_a_port() -> None:
    assert Settings.from_mapping({}).metrics_port is None
    assert Settings.from_mapping({"METRICS_PORT": " "}).metrics_port is None
    assert Settings.from_mapping({"METRICS_PORT": "9100"}).metrics_port == 9100
    for wrong, says in (
        ("0", "between 1 and 65535, got 0"),
        ("65536", "between 1 and 65535, got 65536"),
        ("http", "a whole number, got 'http'"),
    ):
        with pytest.raises(ConfigError) as error:
            Settings.from_mapping({"METRICS_PORT": wrong})
        assert str(error.value) == f"METRICS_PORT must be {says}."


def test_log_format_is_text_or_json() -> None:
    assert Settings.from_mapping({}).log_format == "text"
    assert Settings.from_mapping({"LOG_FORMAT": "JSON"}).log_format == "json"
    assert Settings.from_mapping({"LOG_FORMAT": "text"}).log_format == "text"
    with pytest.raises(ConfigError) as error:
        Settings.from_mapping({"LOG_FORMAT": "logfmt"})
    assert str(error.value) == "LOG_FORMAT must be text or json, got 'logfmt'."


@pytest.mark.parametrize(
    ("env", "signin", "origin"),
    [
        ({}, False, "https://slack.com"),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1"},
            True,
            "https://slack.com",
        ),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"},
            True,
            "https://slack.com",
        ),
        ({"SLACK_API_URL": "https://slack-gov.com/api/"}, False, "https://slack-gov.com"),
        ({"SLACK_API_URL": "http://127.0.0.1:8080/api"}, False, "http://127.0.0.1:8080"),
    ],
)
def test_sign_in_follows_the_client_credentials_and_slack_origin(
    env: dict[str, str], signin: bool, origin: str
) -> None:
    settings = Settings.from_mapping(env)
    assert (settings.signin_enabled, settings.slack_origin) == (signin, origin)

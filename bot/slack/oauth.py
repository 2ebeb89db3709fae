"""OAuth mode: installs through Slack's flow, tokens in the app's own database (encrypted at
rest when ADVOCATE_ENCRYPTION_KEY is set), rotated before they expire."""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.clock import Clock
from bot.config import Settings
from bot.domain import TokenOwner, Workspace
from bot.services import workspaces
from bot.slack.client import make_client, refuse
from bot.slack.scopes import BOT_SCOPES
from bot.store.db import Database

log = logging.getLogger(__name__)

TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
ROTATE_MINUTES_BEFORE_EXPIRY = 120
Stored = TypeVar("Stored", Installation, Bot)


class TokenCipher:
    """Encrypts tokens with a key derived from ADVOCATE_ENCRYPTION_KEY (any passphrase)."""

    PREFIX = "enc:"

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, value: str | None) -> str | None:
        if not value or value.startswith(self.PREFIX):
            return value
        return self.PREFIX + self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str | None) -> str | None:
        if not value or not value.startswith(self.PREFIX):
            return value
        try:
            return self._fernet.decrypt(value[len(self.PREFIX) :].encode()).decode()
        except InvalidToken:
            raise RuntimeError(
                "a stored Slack token cannot be decrypted: ADVOCATE_ENCRYPTION_KEY changed"
            ) from None


class EncryptedInstallationStore(InstallationStore):
    """The SQLAlchemy installation store, with every token encrypted before it is written."""

    def __init__(self, inner: SQLAlchemyInstallationStore, cipher: TokenCipher) -> None:
        self.inner = inner
        self.cipher = cipher

    @property
    def logger(self) -> logging.Logger:
        return log

    def _map(self, item: Stored, how: Any) -> Stored:
        changed = copy.copy(item)
        for name in TOKEN_FIELDS:
            if hasattr(changed, name):
                setattr(changed, name, how(getattr(changed, name)))
        return changed

    def save(self, installation: Installation) -> None:
        self.inner.save(self._map(installation, self.cipher.encrypt))

    def save_bot(self, bot: Bot) -> None:
        self.inner.save_bot(self._map(bot, self.cipher.encrypt))

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        bot = self.inner.find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._map(bot, self.cipher.decrypt) if bot else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = self.inner.find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        return self._map(found, self.cipher.decrypt) if found else None

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.inner.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self.inner.delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.inner.delete_all(enterprise_id=enterprise_id, team_id=team_id)


def installation_store(settings: Settings, db: Database) -> InstallationStore:
    assert settings.slack_client_id
    store = SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=db.engine)
    if settings.encryption_key:
        return EncryptedInstallationStore(store, TokenCipher(settings.encryption_key))
    return store


class OAuthClients:
    """OAuth mode: each workspace's bot token from the installation store, rotated in time
    (scheduled work runs outside any request, so it rotates here as Bolt does per request)."""

    def __init__(self, settings: Settings, store: InstallationStore) -> None:
        assert settings.slack_client_id and settings.slack_client_secret
        self.settings = settings
        self.store = store
        self.rotator = TokenRotator(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            client=make_client(None, settings),
        )

    def find_bot(self, team_id: str, enterprise_id: str | None) -> Bot | None:
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id:
            # An org-wide install on Enterprise Grid serves every workspace of the org.
            bot = self.store.find_bot(
                enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
            )
        return bot

    def serves(self, workspace: Workspace) -> bool:
        return self.find_bot(workspace.team_id, workspace.enterprise_id) is not None

    def token_owner(self) -> None:
        return None

    def client_for(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        bot = self.find_bot(team_id, enterprise_id)
        if bot is None:
            raise LookupError(f"no installation for workspace {team_id}")
        owner = TokenOwner(
            bot.team_id or "", bot.enterprise_id, org_wide=bool(bot.is_enterprise_install)
        )
        if not owner.serves(Workspace(team_id, enterprise_id)):
            raise refuse(Workspace(team_id, enterprise_id), owner)
        if bot.bot_refresh_token:
            rotated = self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_MINUTES_BEFORE_EXPIRY
            )
            if rotated is not None:
                self.store.save_bot(rotated)
                bot = rotated
        return make_client(bot.bot_token, self.settings)

    def forget(self, workspace: Workspace) -> None:
        """Delete the workspace's tokens at once (uninstall, revoked tokens)."""
        self.store.delete_bot(enterprise_id=workspace.enterprise_id, team_id=workspace.team_id)
        self.store.delete_installation(
            enterprise_id=workspace.enterprise_id, team_id=workspace.team_id
        )


def oauth_settings(
    settings: Settings, db: Database, store: InstallationStore, clock: Clock
) -> OAuthSettings:
    """Bolt's OAuth flow on /slack/install and /slack/oauth_redirect, with our stores."""
    assert settings.slack_client_id and settings.slack_client_secret

    def installed(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        if installation.team_id:
            workspaces.ensure(
                db,
                Workspace(installation.team_id, installation.enterprise_id),
                installation.team_name or "",
                clock(),
            )
        log.info(
            "installed in %s (enterprise %s, org-wide %s)",
            installation.team_id,
            installation.enterprise_id,
            installation.is_enterprise_install,
        )
        return args.default.success(args)

    def failed(args: FailureArgs) -> BoltResponse:
        log.warning("an install failed: %s", args.reason)
        return args.default.failure(args)

    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=sorted(BOT_SCOPES),
        installation_store=store,
        state_store=SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=db.engine),
        install_path="/slack/install",
        redirect_uri_path="/slack/oauth_redirect",
        callback_options=CallbackOptions(success=installed, failure=failed),
        token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE_EXPIRY,
    )

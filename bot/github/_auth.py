"""How the client signs in: a personal access token, or a GitHub App's installation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from githubkit import AppInstallationAuthStrategy, TokenAuthStrategy
from githubkit.auth import BaseAuthStrategy
from pydantic import SecretStr

AuthKind = Literal["token", "app"]


@dataclass(frozen=True)
class AppCredentials:
    """A GitHub App installed on the repository.

    githubkit signs a JWT with the key and trades it for installation tokens, each
    renewed a minute before it expires.
    """

    app_id: int
    private_key: SecretStr
    installation_id: int


def auth_strategy(
    token: SecretStr | str | None, app: AppCredentials | None
) -> tuple[BaseAuthStrategy, AuthKind]:
    """githubkit's strategy for exactly one kind of credentials, and which kind it is.

    Raises:
        ValueError: Both or neither are given, or the token is blank.
    """
    if (token is None) == (app is None):
        raise ValueError("give either a GitHub token or GitHub App credentials")
    if app is not None:
        strategy = AppInstallationAuthStrategy(
            app.app_id, app.private_key.get_secret_value(), app.installation_id
        )
        return strategy, "app"
    secret = token if isinstance(token, SecretStr) else SecretStr(str(token))
    if not secret.get_secret_value().strip():
        raise ValueError("a GitHub token is required")
    return TokenAuthStrategy(secret.get_secret_value()), "token"

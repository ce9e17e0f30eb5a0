"""Who a request to the fake GitHub is: a personal token, a GitHub App's JWT or its installation.

GitHub's rules, as far as the bot meets them: an App signs a short JWT (RS256, `iss` the
App id, at most ten minutes long) to call `/app` routes and to mint installation tokens;
an installation token acts as `<slug>[bot]` until its `expires_at`, is refused by
`GET /user`, and is refused with 401 once expired.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

GrantKind = Literal["token", "installation"]
#: GitHub refuses app JWTs that live longer than this.
MAX_JWT_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token may do and who it acts as."""

    login: str
    kind: GrantKind
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """True once the token is past its expiry."""
        return self.expires_at is not None and now >= self.expires_at


@dataclass
class FakeApp:
    """A GitHub App installed on the fake's repositories.

    Attributes:
        app_id: The App's id (the JWT's `iss`).
        slug: Its URL name; installation tokens act as `<slug>[bot]`.
        public_key_pem: Verifies the App's JWTs.
        installation_id: The one installation that may mint tokens.
        token_lifetime: Seconds an installation token lives (GitHub: one hour).
        tokens_issued: Every installation token minted, oldest first.
    """

    app_id: int
    slug: str
    public_key_pem: str
    installation_id: int
    token_lifetime: float = 3600.0
    tokens_issued: list[str] = field(default_factory=list)

    @property
    def bot_login(self) -> str:
        """The login issues made with an installation token are authored by."""
        return f"{self.slug}[bot]"


def generate_app_key() -> tuple[str, str]:
    """A fresh RSA key pair for a test App: (private key PEM, public key PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class FakeAuth:
    """The fake's credentials: one personal token, and optionally one App."""

    def __init__(self, *, token: str, login: str) -> None:
        self.app: FakeApp | None = None
        self._grants: dict[str, Grant] = {token: Grant(login=login, kind="token")}

    def add_app(self, app: FakeApp) -> None:
        """Accept the App's JWTs and let it mint installation tokens."""
        self.app = app

    def grant(self, token: str) -> Grant | None:
        """The grant of a bearer token, or None when the fake never issued it."""
        return self._grants.get(token)

    def verify_jwt(self, token: str) -> bool:
        """True when `token` is a valid, unexpired JWT signed by the App's key."""
        if self.app is None:
            return False
        import jwt

        try:
            claims = jwt.decode(
                token,
                self.app.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError:
            return False
        lifetime = timedelta(seconds=int(claims["exp"]) - int(claims["iat"]))
        return str(claims["iss"]) == str(self.app.app_id) and lifetime <= MAX_JWT_LIFETIME

    def mint_installation_token(self, installation_id: int) -> tuple[str, datetime] | None:
        """A new installation token and its expiry, or None for an unknown installation."""
        app = self.app
        if app is None or installation_id != app.installation_id:
            return None
        token = f"ghs_{secrets.token_hex(18)}"
        expires = datetime.now(UTC) + timedelta(seconds=app.token_lifetime)
        self._grants[token] = Grant(login=app.bot_login, kind="installation", expires_at=expires)
        app.tokens_issued.append(token)
        return token, expires

    def expire_installation_tokens(self) -> None:
        """Make every installation token issued so far expired (as if an hour had passed)."""
        past = datetime.now(UTC) - timedelta(seconds=1)
        for token, grant in list(self._grants.items()):
            if grant.kind == "installation":
                self._grants[token] = Grant(grant.login, grant.kind, expires_at=past)

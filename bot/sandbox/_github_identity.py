"""Who calls the fake GitHub: credentials per request, `GET /app`, App tokens, GraphQL `viewer`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.sandbox import _github_json as js
from bot.sandbox._github_auth import FakeApp, FakeAuth, Grant

#: Who a request acts as: a login, or `app:<id>` for an App's JWT.
IDENTITY = web.RequestKey("identity", str)


class IdentityRoutes:
    """Authentication and the identity routes; mixed into `FakeGitHub`, which owns `auth`."""

    auth: FakeAuth

    def add_app(
        self,
        *,
        public_key_pem: str,
        app_id: int = 424242,
        slug: str = "iterateswarm-app",
        installation_id: int = 7070,
        token_lifetime: float = 3600.0,
    ) -> FakeApp:
        """Install a GitHub App whose JWTs `public_key_pem` verifies."""
        app = FakeApp(
            app_id=app_id,
            slug=slug,
            public_key_pem=public_key_pem,
            installation_id=installation_id,
            token_lifetime=token_lifetime,
        )
        self.auth.add_app(app)
        return app

    def refusal(self, request: web.Request) -> web.Response | None:
        """401/403 as GitHub answers them, or None when the caller may go on.

        Sets `request[IDENTITY]`: the login the credentials act as, or `app:<id>`.
        """
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in {"token", "bearer"}:
            bearer = ""
        if request.path.startswith("/app"):
            app = self.auth.app
            if app is not None and self.auth.verify_jwt(bearer):
                request[IDENTITY] = f"app:{app.app_id}"
                return None
            message = "A JSON web token could not be decoded"
            return web.json_response({"message": message}, status=401)
        grant: Grant | None = self.auth.grant(bearer)
        if grant is None or grant.expired(datetime.now(UTC)):
            return web.json_response({"message": "Bad credentials"}, status=401)
        request[IDENTITY] = grant.login
        if grant.kind == "installation" and request.path == "/user":
            message = "Resource not accessible by integration"
            return web.json_response({"message": message}, status=403)
        return None

    def add_identity_routes(self, app: web.Application) -> None:
        """Register the routes on the fake's application."""
        app.router.add_get("/app", self._get_app)
        app.router.add_post(
            "/app/installations/{installation_id:\\d+}/access_tokens", self._installation_token
        )
        app.router.add_post("/graphql", self._graphql)

    @staticmethod
    def _base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    async def _get_app(self, request: web.Request) -> web.Response:
        fake_app = self.auth.app
        assert fake_app is not None, "the middleware admits only the App's JWT here"
        owner = js.user(self._base(request), "acme")
        return web.json_response(
            js.integration(
                self._base(request), app_id=fake_app.app_id, slug=fake_app.slug, owner=owner
            )
        )

    async def _installation_token(self, request: web.Request) -> web.Response:
        minted = self.auth.mint_installation_token(int(request.match_info["installation_id"]))
        if minted is None:
            return web.json_response({"message": "Not Found"}, status=404)
        token, expires_at = minted
        payload: dict[str, Any] = {
            "token": token,
            "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": {"issues": "write", "metadata": "read"},
            "repository_selection": "selected",
        }
        return web.json_response(payload, status=201)

    async def _graphql(self, request: web.Request) -> web.Response:
        payload = await request.json()
        query = str(payload.get("query") or "")
        if "viewer" not in query or "login" not in query:
            error = {"message": "the fake GitHub answers only `viewer { login }`"}
            return web.json_response({"data": None, "errors": [error]})
        return web.json_response({"data": {"viewer": {"login": request[IDENTITY]}}})

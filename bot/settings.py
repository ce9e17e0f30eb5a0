"""Process settings, read once from the environment and `.env`, grouped by section."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode

from agents.dedup.scoring import DEFAULT_DUPLICATE_THRESHOLD, DEFAULT_POSSIBLE_THRESHOLD
from bot.forum_settings import ForumSettings
from bot.settings_section import SettingsSection

IdList = Annotated[list[int], NoDecode]
NameList = Annotated[list[str], NoDecode]

PLACEHOLDER_SECRETS = {"changeme", "your-token-here", "xxx", "..."}


def _env(name: str) -> Any:
    """Field alias so each setting is read from exactly the documented variable."""
    return AliasChoices(name)


def _split_commas(value: object) -> object:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


def _parse_ids(value: object) -> list[int]:
    parts = _split_commas(value)
    if not isinstance(parts, list):
        raise ValueError("expected comma-separated Discord ids, e.g. 123,456")
    ids: list[int] = []
    for part in parts:
        try:
            ids.append(int(part))
        except (TypeError, ValueError):
            raise ValueError(f"expected comma-separated Discord ids, got {part!r}") from None
    return ids


def _parse_duration(value: object) -> timedelta:
    """Accept seconds (`3600`) or a number with a unit (`90s`, `30m`, `24h`, `7d`)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    text = str(value).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise ValueError(
            f"expected a duration such as 3600, 30m, 24h or 7d, got {value!r}"
        ) from None
    if seconds <= 0:
        raise ValueError("expected a positive duration")
    return timedelta(seconds=seconds)


def _real_secret(value: SecretStr | None, advice: str) -> SecretStr | None:
    """None for an empty secret; a placeholder such as `changeme` is refused."""
    if value is None or not value.get_secret_value().strip():
        return None
    if value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"is a placeholder; {advice}")
    return value


class DiscordSettings(SettingsSection):
    """Discord connection and the channels and roles the bot works with."""

    token: SecretStr | None = Field(None, validation_alias=_env("DISCORD_BOT_TOKEN"))
    feedback_channel_ids: IdList = Field(
        default_factory=list, validation_alias=_env("FEEDBACK_CHANNEL_IDS")
    )
    review_channel_id: int | None = Field(None, validation_alias=_env("REVIEW_CHANNEL_ID"))
    maintainer_role_ids: IdList = Field(
        default_factory=list, validation_alias=_env("MAINTAINER_ROLE_IDS")
    )
    api_base: str | None = Field(None, validation_alias=_env("DISCORD_API_BASE"))
    gateway_url: str | None = Field(None, validation_alias=_env("DISCORD_GATEWAY_URL"))
    shard_count: int | None = Field(None, ge=1, validation_alias=_env("SHARD_COUNT"))
    shard_ids: IdList = Field(default_factory=list, validation_alias=_env("SHARD_IDS"))
    # Home guilds: the bot works only there (default: the guild of REVIEW_CHANNEL_ID).
    allowed_guild_ids: IdList = Field(
        default_factory=list, validation_alias=_env("ALLOWED_GUILD_IDS")
    )
    leave_unknown_guilds: bool = Field(True, validation_alias=_env("LEAVE_UNKNOWN_GUILDS"))
    commands_global: bool = Field(False, validation_alias=_env("COMMANDS_GLOBAL"))
    # Stop (exit code 2) instead of going on without Message Content when Discord refuses it.
    message_content_required: bool = Field(False, validation_alias=_env("MESSAGE_CONTENT_REQUIRED"))
    triage_emoji: str = Field("📝", validation_alias=_env("TRIAGE_REACTION_EMOJI"))
    approve_emoji: str = Field("✅", validation_alias=_env("APPROVE_REACTION_EMOJI"))
    reject_emoji: str = Field("❌", validation_alias=_env("REJECT_REACTION_EMOJI"))
    ack_emoji: str = Field("👀", validation_alias=_env("ACK_REACTION_EMOJI"))
    not_actionable_emoji: str = Field("💜", validation_alias=_env("NOT_ACTIONABLE_EMOJI"))
    rate_limit_items: int = Field(5, ge=1, validation_alias=_env("RATE_LIMIT_ITEMS"))
    rate_limit_window: timedelta = Field(
        timedelta(minutes=10), validation_alias=_env("RATE_LIMIT_WINDOW")
    )
    # Deferred items a user may have waiting; beyond it new messages are not picked up.
    rate_limit_backlog: int = Field(20, ge=0, validation_alias=_env("RATE_LIMIT_BACKLOG"))
    # Text files of a feedback message: the most read of each, how many, how long to wait.
    attachment_max_bytes: int = Field(
        65536, ge=0, le=1 << 20, validation_alias=_env("ATTACHMENT_MAX_BYTES")
    )
    attachment_max_files: int = Field(5, ge=0, le=10, validation_alias=_env("ATTACHMENT_MAX_FILES"))
    attachment_timeout: float = Field(
        10.0, gt=0, le=120, validation_alias=_env("ATTACHMENT_TIMEOUT_SECONDS")
    )

    _ids = field_validator(
        "feedback_channel_ids",
        "maintainer_role_ids",
        "shard_ids",
        "allowed_guild_ids",
        mode="before",
    )(_parse_ids)
    _window = field_validator("rate_limit_window", mode="before")(_parse_duration)

    @field_validator("api_base", "gateway_url", mode="after")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("token", mode="after")
    @classmethod
    def _reject_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        return _real_secret(value, "set the real bot token or leave it empty")

    @model_validator(mode="after")
    def _commands_scope(self) -> DiscordSettings:
        if self.commands_global and self.allowed_guild_ids:
            raise ValueError(
                "COMMANDS_GLOBAL registers the commands in every server; with "
                "ALLOWED_GUILD_IDS set they are registered in those servers, so leave it false"
            )
        return self

    @model_validator(mode="after")
    def _shards_fit(self) -> DiscordSettings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError("SHARD_IDS needs SHARD_COUNT")
        if self.shard_count is not None and any(s >= self.shard_count for s in self.shard_ids):
            raise ValueError("every id in SHARD_IDS must be below SHARD_COUNT")
        return self


def _read_private_key(value: str) -> str:
    """The PEM text of a GitHub App's private key, given the text itself or a file's path.

    Escaped newlines (`\\n`, as one-line variables carry them) are undone. The error
    never repeats the value.
    """
    text = value.strip()
    if "-----BEGIN" not in text:
        try:
            text = Path(text).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, ValueError):
            raise ValueError("is neither a PEM private key nor a readable file") from None
    text = text.replace("\\n", "\n")
    if "-----BEGIN" not in text or "PRIVATE KEY-----" not in text:
        raise ValueError("does not hold a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
    return text + "\n"


class GitHubSettings(SettingsSection):
    """The repository issues are filed in and how to reach GitHub.

    Credentials are a personal access token (`GITHUB_TOKEN`) or a GitHub App
    (`GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY`, `GITHUB_APP_INSTALLATION_ID`), not both.
    """

    token: SecretStr | None = Field(None, validation_alias=_env("GITHUB_TOKEN"))
    app_id: int | None = Field(None, ge=1, validation_alias=_env("GITHUB_APP_ID"))
    app_private_key: SecretStr | None = Field(None, validation_alias=_env("GITHUB_APP_PRIVATE_KEY"))
    app_installation_id: int | None = Field(
        None, ge=1, validation_alias=_env("GITHUB_APP_INSTALLATION_ID")
    )
    owner: str | None = Field(None, validation_alias=_env("GITHUB_OWNER"))
    repo: str | None = Field(None, validation_alias=_env("GITHUB_REPO"))
    allowed_repos: NameList = Field(default_factory=list, validation_alias=_env("ALLOWED_REPOS"))
    api_url: str = Field("https://api.github.com", validation_alias=_env("GITHUB_API_URL"))
    sync_interval: timedelta = Field(
        timedelta(minutes=15), validation_alias=_env("GITHUB_SYNC_INTERVAL")
    )
    # A full comparison of the indexed issue numbers with GitHub's: one request per 100 issues.
    reconcile_interval: timedelta = Field(
        timedelta(hours=6), validation_alias=_env("GITHUB_RECONCILE_INTERVAL")
    )
    comment_on_duplicates: bool = Field(True, validation_alias=_env("GITHUB_COMMENT_ON_DUPLICATES"))
    update_label: str | None = Field("released", validation_alias=_env("GITHUB_UPDATE_LABEL"))
    sync_comments: Literal["off", "github_to_discord", "both"] = Field(
        "off", validation_alias=_env("SYNC_COMMENTS")
    )
    """Mirror comments of filed issues into their Discord post or thread (and back: `both`)."""
    label_map: dict[str, str] = Field(
        default_factory=lambda: {"bug": "bug", "feature": "enhancement", "question": "question"},
        validation_alias=_env("GITHUB_LABEL_MAP"),
    )

    _lists = field_validator("allowed_repos", mode="before")(_split_commas)
    _interval = field_validator("sync_interval", "reconcile_interval", mode="before")(
        _parse_duration
    )

    @field_validator("api_url", mode="after")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("token", mode="after")
    @classmethod
    def _empty_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @field_validator("app_private_key", mode="after")
    @classmethod
    def _pem(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(_read_private_key(value.get_secret_value()))

    @model_validator(mode="after")
    def _one_kind_of_credentials(self) -> GitHubSettings:
        app = {
            "GITHUB_APP_ID": self.app_id,
            "GITHUB_APP_PRIVATE_KEY": self.app_private_key,
            "GITHUB_APP_INSTALLATION_ID": self.app_installation_id,
        }
        missing = [name for name, value in app.items() if value is None]
        if 0 < len(missing) < len(app):
            raise ValueError(
                f"a GitHub App needs all three GITHUB_APP_* variables; missing: "
                f"{', '.join(missing)}"
            )
        if not missing and self.token is not None:
            raise ValueError("set GITHUB_TOKEN or the GITHUB_APP_* variables, not both")
        return self

    @property
    def uses_app(self) -> bool:
        """True when the bot signs in as a GitHub App installation."""
        return self.app_id is not None

    @property
    def has_credentials(self) -> bool:
        """True when a token or a GitHub App is configured."""
        return self.token is not None or self.uses_app

    @field_validator("update_label", mode="after")
    @classmethod
    def _blank_label_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("allowed_repos", mode="after")
    @classmethod
    def _full_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if name.count("/") != 1 or not all(name.split("/")):
                raise ValueError(f"expected owner/name entries, got {name!r}")
        return [name.lower() for name in value]

    @property
    def full_name(self) -> str | None:
        """`owner/repo` of the configured repository, if both are set."""
        if self.owner and self.repo:
            return f"{self.owner}/{self.repo}"
        return None

    @property
    def allowlist(self) -> list[str]:
        """Repositories the bot may file into (default: the configured one only)."""
        if self.allowed_repos:
            return self.allowed_repos
        return [self.full_name.lower()] if self.full_name else []


class LLMSettings(SettingsSection):
    """The OpenAI-compatible endpoint; without a key the offline engine is used."""

    api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    model_name: str = Field("gpt-4o-mini", validation_alias=_env("OPENAI_MODEL_NAME"))
    fallback_models: NameList = Field(
        default_factory=list, validation_alias=_env("OPENAI_FALLBACK_MODELS")
    )
    requests_per_minute: float = Field(20, gt=0, validation_alias=_env("LLM_REQUESTS_PER_MINUTE"))
    timeout_seconds: float = Field(30, gt=0, validation_alias=_env("LLM_TIMEOUT_SECONDS"))
    structured_output: Literal["auto", "function_calling", "json_schema", "json_mode", "prompt"] = (
        Field("auto", validation_alias=_env("OPENAI_STRUCTURED_OUTPUT"))
    )
    max_tokens_classify: int = Field(
        300, ge=32, le=32768, validation_alias=_env("LLM_MAX_TOKENS_CLASSIFY")
    )
    max_tokens_spec: int = Field(800, ge=64, le=32768, validation_alias=_env("LLM_MAX_TOKENS_SPEC"))
    max_concurrency: int = Field(8, ge=1, le=256, validation_alias=_env("LLM_MAX_CONCURRENCY"))
    system_role: Literal["system", "user"] = Field(
        "system", validation_alias=_env("LLM_SYSTEM_ROLE")
    )

    _lists = field_validator("fallback_models", mode="before")(_split_commas)

    @field_validator("structured_output", "system_role", mode="before")
    @classmethod
    def _method_name(cls, value: object) -> object:
        return value.strip().lower().replace("-", "_") if isinstance(value, str) else value

    @field_validator("api_key", mode="after")
    @classmethod
    def _empty_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @property
    def enabled(self) -> bool:
        """True when an API key is configured."""
        return self.api_key is not None

    @property
    def models(self) -> list[str]:
        """The model cascade: the main model, then each fallback."""
        return [self.model_name, *[m for m in self.fallback_models if m != self.model_name]]


class TriageSettings(SettingsSection):
    """Thresholds and timings of the triage and review flow."""

    duplicate_threshold: float = Field(
        DEFAULT_DUPLICATE_THRESHOLD, ge=0, le=1, validation_alias=_env("DUPLICATE_THRESHOLD")
    )
    possible_duplicate_threshold: float = Field(
        DEFAULT_POSSIBLE_THRESHOLD,
        ge=0,
        le=1,
        validation_alias=_env("POSSIBLE_DUPLICATE_THRESHOLD"),
    )
    review_confidence: float = Field(0.55, ge=0, le=1, validation_alias=_env("REVIEW_CONFIDENCE"))
    reminder_after: timedelta = Field(
        timedelta(hours=24), validation_alias=_env("APPROVAL_REMINDER_AFTER")
    )
    expires_after: timedelta = Field(
        timedelta(days=7), validation_alias=_env("APPROVAL_EXPIRES_AFTER")
    )
    ask_for_details: bool = Field(True, validation_alias=_env("ASK_FOR_DETAILS"))
    details_timeout: timedelta = Field(timedelta(hours=6), validation_alias=_env("DETAILS_TIMEOUT"))
    # A strong match with an open issue is first put to the reporter ("is it the same?").
    duplicate_confirm: Literal["auto_link", "review", "off"] = Field(
        "auto_link", validation_alias=_env("DUPLICATE_CONFIRM")
    )
    duplicate_confirm_timeout: timedelta = Field(
        timedelta(hours=1), validation_alias=_env("DUPLICATE_CONFIRM_TIMEOUT")
    )
    # A filing that failed for a passing reason (rate limit, 5xx, timeout) is retried by
    # itself this many times: at GitHub's reset time, else after a delay doubling each time.
    filing_auto_retries: int = Field(3, ge=0, le=20, validation_alias=_env("FILING_AUTO_RETRIES"))
    filing_retry_delay: timedelta = Field(
        timedelta(minutes=1), validation_alias=_env("FILING_RETRY_DELAY")
    )

    digest_interval: timedelta = Field(timedelta(days=7), validation_alias=_env("DIGEST_INTERVAL"))
    correction_similarity: float = Field(
        0.85, ge=0, le=1, validation_alias=_env("CORRECTION_SIMILARITY")
    )
    # Items whose graph runs at once: more in flight fill the embedder's batches in a burst.
    concurrency: int = Field(128, ge=1, le=1024, validation_alias=_env("TRIAGE_CONCURRENCY"))

    _durations = field_validator(
        "reminder_after",
        "expires_after",
        "digest_interval",
        "details_timeout",
        "duplicate_confirm_timeout",
        "filing_retry_delay",
        mode="before",
    )(_parse_duration)

    @model_validator(mode="after")
    def _ordered(self) -> TriageSettings:
        if self.possible_duplicate_threshold > self.duplicate_threshold:
            raise ValueError("POSSIBLE_DUPLICATE_THRESHOLD must not exceed DUPLICATE_THRESHOLD")
        return self


class RetentionSettings(SettingsSection):
    """How long people's data is kept."""

    # Finished items (filed, rejected, ...) keep their texts this long, then lose them.
    data_retention: timedelta = Field(timedelta(days=365), validation_alias=_env("DATA_RETENTION"))
    # A guild that removed the bot keeps its data this long (in case it comes back).
    guild_data_retention: timedelta = Field(
        timedelta(days=30), validation_alias=_env("GUILD_DATA_RETENTION")
    )
    # Rejected feedback stays matchable as a duplicate this long.
    rejected_index_retention: timedelta = Field(
        timedelta(days=30), validation_alias=_env("REJECTED_INDEX_RETENTION")
    )

    _durations = field_validator(
        "data_retention", "guild_data_retention", "rejected_index_retention", mode="before"
    )(_parse_duration)


class Settings(SettingsSection):
    """Everything the process needs, built once in `main()` and passed explicitly."""

    data_dir: Path = Field(Path("./data"), validation_alias=_env("DATA_DIR"))
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    chroma_url: str | None = Field(None, validation_alias=_env("CHROMA_URL"))
    # int8: ONNX Runtime on a quantized model built once under DATA_DIR (no PyTorch loaded);
    # fp32: the PyTorch model. int8 falls back to fp32 when its artifact fails the check.
    embedding_runtime: Literal["int8", "fp32"] = Field(
        "int8", validation_alias=_env("EMBEDDING_RUNTIME")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("LOG_LEVEL")
    )
    log_format: Literal["json", "console"] | None = Field(None, validation_alias=_env("LOG_FORMAT"))
    health_port: int | None = Field(None, ge=1, le=65535, validation_alias=_env("HEALTH_PORT"))
    health_host: str = Field("127.0.0.1", min_length=1, validation_alias=_env("HEALTH_HOST"))
    health_token: SecretStr | None = Field(None, validation_alias=_env("HEALTH_TOKEN"))

    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    forums: ForumSettings = Field(default_factory=ForumSettings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("health_token", mode="after")
    @classmethod
    def _real_health_token(cls, value: SecretStr | None) -> SecretStr | None:
        return _real_secret(value, "set a long random token or leave it empty")

    @field_validator("database_url", "chroma_url", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    @field_validator("database_url", mode="after")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        """Normalise plain PostgreSQL and SQLite URLs to their async drivers."""
        if value is None:
            return None
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("expected a postgresql:// or sqlite:/// URL")
        return value

    @property
    def db_url(self) -> str:
        """The database URL in force (default: a SQLite file under DATA_DIR)."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'iterateswarm.sqlite3').resolve()}"

    @property
    def is_postgres(self) -> bool:
        """True when the database is PostgreSQL."""
        return self.db_url.startswith("postgresql")

    @property
    def resolved_log_format(self) -> Literal["json", "console"]:
        """JSON when not attached to a terminal, unless LOG_FORMAT says otherwise."""
        if self.log_format:
            return self.log_format
        import sys

        return "console" if sys.stderr.isatty() else "json"


#: Each nested section of `Settings`, by field name.
SECTIONS: dict[str, type[BaseSettings]] = {
    "discord": DiscordSettings,
    "github": GitHubSettings,
    "llm": LLMSettings,
    "triage": TriageSettings,
    "retention": RetentionSettings,
    "forums": ForumSettings,
}


class SettingsError(Exception):
    """Raised with one readable line per invalid variable."""


def load_settings(**overrides: Any) -> Settings:
    """Build `Settings`, turning validation errors into messages that name the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc)) from None


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: `VARIABLE: what is expected`."""
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{name.upper()}: {message}")
    return "\n".join(lines)

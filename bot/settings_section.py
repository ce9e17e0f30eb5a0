"""The base of every settings section: read from the environment and `.env`, alike."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsSection(BaseSettings):
    """A group of settings read from the environment (and `.env`); empty values are unset."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

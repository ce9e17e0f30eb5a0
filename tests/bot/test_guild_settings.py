"""Channel and role settings must belong to the guild that sets them."""

from __future__ import annotations

import pytest

from bot.guild_settings import ConfigError, check_belongs

GUILD = 100


class Directory:
    """Channels 1 and 2 and role 7 belong to GUILD; everything else to another guild."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def channel_in_guild(self, guild_id: int, channel_id: int) -> bool:
        self.asked.append(("channel", channel_id))
        return guild_id == GUILD and channel_id in (1, 2)

    async def role_in_guild(self, guild_id: int, role_id: int) -> bool:
        self.asked.append(("role", role_id))
        return guild_id == GUILD and role_id == 7


async def test_own_channels_and_roles_pass() -> None:
    directory = Directory()
    await check_belongs("feedback_channel_ids", [1, 2], guild_id=GUILD, ownership=directory)
    await check_belongs("review_channel_id", 2, guild_id=GUILD, ownership=directory)
    await check_belongs("maintainer_role_ids", [7], guild_id=GUILD, ownership=directory)
    await check_belongs("ack_emoji", "👀", guild_id=GUILD, ownership=None)
    await check_belongs("review_channel_id", None, guild_id=GUILD, ownership=None)
    assert directory.asked == [("channel", 1), ("channel", 2), ("channel", 2), ("role", 7)]


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("feedback_channel_ids", [1, 3], "`3` is not a channel of this server"),
        ("review_channel_id", 3, "`3` is not a channel of this server"),
        ("maintainer_role_ids", [7, 8], "`8` is not a role of this server"),
        ("maintainer_role_ids", [GUILD], "@everyone"),
    ],
)
async def test_anything_else_is_refused(key: str, value: object, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        await check_belongs(key, value, guild_id=GUILD, ownership=Directory())


async def test_without_a_directory_channels_and_roles_cannot_be_set() -> None:
    with pytest.raises(ConfigError, match="only be changed from Discord"):
        await check_belongs("review_channel_id", 1, guild_id=GUILD, ownership=None)

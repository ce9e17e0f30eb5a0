"""The CLI: help, clear one-line errors, `db upgrade` on both backends, `check` reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import REPO_ROOT


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**_clean_environment(), **(env or {})},
        cwd=cwd or REPO_ROOT,
    )


def _clean_environment() -> dict[str, str]:
    """This process's environment without bot credentials, running this checkout's code."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GITHUB_", "OPENAI_"))
    }
    return {**base, "PYTHONPATH": str(REPO_ROOT)}


def test_help_lists_subcommands() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for name in ("run", "check", "db", "triage"):
        assert name in result.stdout


def test_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    result = _run("db", "upgrade", env={"FEEDBACK_CHANNEL_IDS": "nope", "DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "FEEDBACK_CHANNEL_IDS: expected comma-separated Discord ids" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(tmp_path), "db", "upgrade"]) == 0
    assert "sqlite" in capsys.readouterr().out
    assert (tmp_path / "iterateswarm.sqlite3").exists()
    assert main(["--data-dir", str(tmp_path), "db", "current"]) == 0


@pytest.mark.postgres
async def test_db_upgrade_postgres(tmp_path: Path) -> None:
    from tests.conftest import create_pg_database, drop_pg_database

    url = await create_pg_database()
    try:
        result = _run("db", "upgrade", env={"DATABASE_URL": url, "DATA_DIR": str(tmp_path)})
        assert result.returncode == 0, result.stderr
        assert "postgresql" in result.stdout
    finally:
        await drop_pg_database(url)


def test_check_without_configuration_says_what_is_missing(tmp_path: Path) -> None:
    result = _run("check", "--skip-model", env={"DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 1
    assert "DISCORD_BOT_TOKEN" in result.stdout and "missing" in result.stdout
    assert "offline engine" in result.stdout
    assert "The bot cannot start" in result.stdout


#: Runs the CLI's default command in a child and prints which sandbox modules it imported.
_IMPORTED_FAKES = (
    "import sys\n"
    "from bot.cli import main\n"
    "code = main()\n"
    "print('fakes:', sorted(m for m in sys.modules if m.startswith('bot.sandbox')))\n"
    "sys.exit(code)\n"
)


@pytest.mark.parametrize("args", [(), ("run",)])
def test_run_without_a_token_exits_nonzero_and_starts_no_fake(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = _run(*args, env={"DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path)
    assert result.returncode != 0
    assert "DISCORD_BOT_TOKEN" in result.stderr
    assert "make run" in result.stderr and "iterateswarm demo" in result.stderr
    assert "local demo:" not in result.stdout.lower()
    assert "fake Discord server" not in result.stdout
    assert not (tmp_path / "data").exists()


def test_the_default_command_never_imports_the_fakes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED_FAKES],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**_clean_environment(), "DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "fakes: []" in result.stdout, result.stdout + result.stderr

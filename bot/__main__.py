"""`python -m bot`: the same as the `iterateswarm` command."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""IterateSwarm: Discord feedback in, de-duplicated, maintainer-approved GitHub issues out."""

__version__ = "0.1.0"

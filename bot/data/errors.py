"""Errors of the data domain. Commands turn them into CLI errors; nothing here knows the CLI."""


class DataError(ValueError):
    """Market data cannot be read: a missing or unreadable file, an unknown or mixed format,
    or malformed content. The message names the file (and line, where there is one)."""

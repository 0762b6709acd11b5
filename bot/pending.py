"""Commands that a later issue delivers: they say so (one line, exit code 2) instead of pretending."""

import sys

import click


def _where(issue: int | None) -> str:
    return f"issue #{issue}" if issue is not None else "no issue filed yet"


def _refuse(name: str, what: str, issue: int | None):
    click.echo(f"bot4 {name}: not built yet ({what}; {_where(issue)})", err=True)
    sys.exit(2)


class PendingCommand(click.Command):
    """A leaf command that is not built yet."""

    def __init__(self, name: str, issue: int | None, what: str):
        super().__init__(
            name,
            help=f"{what} (not built yet: {_where(issue)}).",
            callback=lambda: _refuse(name, what, issue),
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        )


class PendingGroup(click.Group):
    """A command group that is not built yet: any subcommand gets the same one-line answer."""

    def __init__(self, name: str, issue: int | None, what: str):
        super().__init__(name, help=f"{what} (not built yet: {_where(issue)}).",
                         invoke_without_command=True,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
        self._what, self._issue = what, issue

    def invoke(self, ctx):
        _refuse(self.name, self._what, self._issue)

"""Commands that a later issue delivers: they say so (one line, exit code 2) instead of pretending."""

import sys

import click


class PendingCommand(click.Command):
    """A command a later issue delivers: it says so (one line, exit code 2) instead of pretending."""

    def __init__(self, name: str, issue: int, what: str):
        super().__init__(
            name,
            help=f"{what} (not built yet: issue #{issue}).",
            callback=self._run,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        )
        self.issue = issue
        self.what = what

    def _run(self):
        click.echo(f"bot4 {self.name}: not built yet ({self.what}; issue #{self.issue})", err=True)
        sys.exit(2)


class PendingGroup(click.Group):
    def __init__(self, name: str, issue: int, what: str):
        super().__init__(name, help=f"{what} (not built yet: issue #{issue}).",
                         invoke_without_command=True,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
        self.issue = issue
        self.what = what

    def invoke(self, ctx):
        click.echo(f"bot4 {self.name}: not built yet ({self.what}; issue #{self.issue})", err=True)
        sys.exit(2)

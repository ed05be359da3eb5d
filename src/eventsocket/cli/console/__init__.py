"""``eventsocket console``: an fs_cli for any event socket server (FreeSWITCH or eventsocket).

Split by job: :mod:`.profiles` (console.toml and ~/.fs_cli_conf), :mod:`.options` (flags
and the settings they resolve to), :mod:`.link` (connecting, reconnecting, one-line
errors), :mod:`.commands` (what a typed line does), :mod:`.render` (colours, events,
prompt), :mod:`.completion` (tab completion from the server) and :mod:`.app` (the
prompt, batch mode and ``-x``). prompt_toolkit is needed (the ``console`` extra) only
when the console runs.
"""

from __future__ import annotations

import argparse
import sys

from eventsocket.cli.console.options import OptionsError, add_arguments, resolve

__all__ = ["add_arguments", "main"]


def main(args: argparse.Namespace) -> int:
    """Run the console for parsed ``args``; returns fs_cli's exit status."""
    try:
        settings = resolve(args)
    except OptionsError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        from eventsocket.cli.console.app import run
    except ImportError as exc:
        if exc.name and exc.name.startswith("prompt_toolkit"):
            print("eventsocket console needs prompt_toolkit: pip install 'eventsocket[console]'",
                  file=sys.stderr)
            return 1
        raise
    return run(settings)

"""Models shipped inside the package. A model name `embedded:NAME` means the directory
`vidmusician/assets/NAME` of the installed package, resolved in each process (driver or Ray worker on
any node) to wherever that process's copy of the package lives."""
from __future__ import annotations

import os
from importlib import resources

PREFIX = "embedded:"


def model_path(name: str | os.PathLike) -> str:
    """A model name as the loaders take it: `embedded:NAME` -> its shipped directory, `~` expanded,
    anything else (a hub id) unchanged."""
    name = os.fspath(name)
    if name.startswith(PREFIX):
        return str(resources.files("vidmusician").joinpath("assets", name[len(PREFIX):]))
    return os.path.expanduser(name)

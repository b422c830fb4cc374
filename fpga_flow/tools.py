"""External programs the build runs (compilers, simulators, synthesis): found on PATH or
named in one line with how to install them."""

from __future__ import annotations

import shutil

from fpga_flow.errors import ToolMissingError


def require_tool(executable: str, debian_package: str, purpose: str) -> str:
    """The path of ``executable``; ToolMissingError naming it when it is not on PATH."""
    path = shutil.which(executable)
    if path is None:
        raise ToolMissingError(f"{executable} not found on PATH: install it (Debian: apt-get install {debian_package}, "
                               f"or make system-deps) to {purpose}")
    return path

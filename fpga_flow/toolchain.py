"""The programs and packages that turn a model into a build's files: recorded in every
run summary and part of every build-cache key (with the source of fpga_flow itself,
see :func:`fpga_flow.pipeline.design_cache.source_digest`); and the external programs the build runs
(compilers, simulators, synthesis), found on PATH or named in one line with how to
install them."""

from __future__ import annotations

import platform
import shutil
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from pydantic import BaseModel, ConfigDict, Field

from fpga_flow.errors import ToolMissingError

PACKAGES = ("fpga-flow", "hls4ml", "tensorflow", "qkeras", "numpy")


class Toolchain(BaseModel):
    """Versions (None: the package is not installed) and the g++ flags C-simulation uses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    python: str
    fpga_flow: str | None
    hls4ml: str | None
    tensorflow: str | None
    qkeras: str | None
    numpy: str | None
    gxx: str | None = Field(description="g++ -dumpfullversion")
    compile_flags: tuple[str, ...] = Field(description="g++ flags of every C-simulation compile")


def _installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@lru_cache(maxsize=None)
def toolchain_with(gxx: str | None, compile_flags: tuple[str, ...]) -> Toolchain:
    """This process's Python and packages, with the g++ version and flags given (the C-simulation
    owns those: :func:`fpga_flow.csim.current_toolchain` passes them)."""
    packages = {package.replace("-", "_"): _installed(package) for package in PACKAGES}
    return Toolchain(python=platform.python_version(), gxx=gxx, compile_flags=compile_flags, **packages)


def require_tool(executable: str, debian_package: str, purpose: str) -> str:
    """The path of ``executable``; ToolMissingError naming it when it is not on PATH."""
    path = shutil.which(executable)
    if path is None:
        raise ToolMissingError(f"{executable} not found on PATH: install it (Debian: apt-get install {debian_package}, "
                               f"or make system-deps) to {purpose}")
    return path

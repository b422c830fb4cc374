"""The ``fpga-flow`` command. Each command lives in its own module and registers on ``app``."""

from fpga_flow.cli import (
    boards_zoo,  # noqa: F401  (registers commands)
    build,  # noqa: F401
    cache,  # noqa: F401
    dashboard,  # noqa: F401
    deploy,  # noqa: F401
    estimate,  # noqa: F401
    report,  # noqa: F401
    rtl,  # noqa: F401
    sweep,  # noqa: F401
)
from fpga_flow.cli.app import app

__all__ = ["app"]

"""The ``fpga-flow`` command. Each command lives in its own module and registers on ``app``."""

from fpga_flow.cli.app import app
from fpga_flow.cli import boards_zoo  # noqa: F401  (registers commands)
from fpga_flow.cli import build  # noqa: F401
from fpga_flow.cli import dashboard  # noqa: F401
from fpga_flow.cli import report  # noqa: F401
from fpga_flow.cli import rtl  # noqa: F401
from fpga_flow.cli import sweep  # noqa: F401
from fpga_flow.cli import cache  # noqa: F401
from fpga_flow.cli import estimate  # noqa: F401
from fpga_flow.cli import deploy  # noqa: F401

__all__ = ["app"]

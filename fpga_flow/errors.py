"""Errors that reach the user as one line.

Every user mistake is raised as a :class:`FlowError` subclass whose message names the
problem and the fix; the CLI prints ``error: <message>`` and exits with ``exit_code``
instead of showing a traceback.
"""

from __future__ import annotations


class FlowError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message."""

    exit_code = 2


class UserInputError(FlowError):
    """Bad arguments, files or configuration given by the user."""


class BoardConfigError(UserInputError):
    """A board YAML that does not validate, or an unknown board name."""


class ModelLoadError(UserInputError):
    """A model file that is missing, unreadable or not a Keras/QKeras model."""


class UnsupportedModelError(UserInputError):
    """A model with a layer or setting hls4ml 1.3.0 cannot convert."""


class RTLUnsupportedError(UnsupportedModelError):
    """A model the RTL stages do not mirror (a layer, a type or a setting): the build
    skips the RTL stages with this one line and everything else runs as before."""


class ToolMissingError(FlowError):
    """An external program (g++, Vitis HLS, Vivado, Quartus) is not on PATH."""


class StageFailedError(FlowError):
    """A build stage ran but failed (compiler error, vendor tool error)."""

    exit_code = 1


class NotEmulableError(FlowError):
    """A layer or setting of a converted design that fpga_flow.emulate does not reproduce
    bit for bit; the message names the layer. The build compiles the C++ instead."""

    exit_code = 1

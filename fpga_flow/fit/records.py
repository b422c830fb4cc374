"""The fit's two errors; its records (what the user asked, a layer's setting, one priced
plan, the result written to ``summary.json``) are data-only models of
:mod:`fpga_flow.records.fit`, re-exported here for the fit's modules."""

from __future__ import annotations

from fpga_flow.errors import FlowError
from fpga_flow.records.fit import FitPoint, FitRequest, FitResult, LayerChoice, LayerSetting, Objective  # noqa: F401 (re-exported)


class FitError(FlowError):
    """hls4ml changed a value the fit planned: the fit's fault, a failed stage."""

    exit_code = 1


class DoesNotFitError(FlowError):
    """No plan fits the board within the budget: the build stops before compiling."""

    exit_code = 1

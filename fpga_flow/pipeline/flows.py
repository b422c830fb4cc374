"""The named step lists: :data:`BUILD_STEPS`, the one map of the build, and the partial
pipelines other commands run (as FINN's ``estimate_only_dataflow_steps``).

Adding a build step ``x``:

1. write ``def step_x(ctx: BuildContext) -> XResult`` in :mod:`~fpga_flow.pipeline.steps`
   (the design) or :mod:`~fpga_flow.pipeline.check_steps` (what checks it), with a
   docstring saying what it reads and writes; define ``XResult`` in the stage's module (a
   pydantic model when it goes into the summary, see :mod:`fpga_flow.summary`);
2. add ``x: XResult | None = None`` to :class:`~fpga_flow.pipeline.context.BuildContext`,
   under the step that writes it;
3. add ``Step("x", "Doing x", step_x, writes="x")`` here, in the lists it runs in;
4. record it in :class:`fpga_flow.summary.RunSummary` and
   :func:`fpga_flow.pipeline.summarize.make_summary`.

Any list runs in part with ``run_steps(ctx, steps, start_at=..., stop_after=...)``.
"""

from __future__ import annotations

from fpga_flow.pipeline.check_steps import (
    step_csim_bridge,
    step_gates,
    step_plots,
    step_pnr,
    step_rtl,
    step_rtl_sim,
    step_synthesis,
    step_testbench,
)
from fpga_flow.pipeline.design_cache import CachedSteps
from fpga_flow.pipeline.driver import Step, StepGroup, titles
from fpga_flow.pipeline.rtl_cache import CachedRTLSteps
from fpga_flow.pipeline.steps import (
    step_check,
    step_compile,
    step_convert,
    step_estimate,
    step_fit,
    step_load,
    step_precision,
    step_refit,
)

LOAD = Step("load", "Loading model and data", step_load, writes="loaded")
CHECK = Step("check", "Checking layers against hls4ml", step_check)
FIT = Step("fit", "Fitting the design to the board", step_fit, writes="fit")
PRECISION = Step("precision", "Choosing precisions", step_precision, writes="precision")

BUILD_STEPS: tuple[Step | StepGroup, ...] = (
    LOAD,
    CHECK,
    CachedSteps(
        FIT,
        PRECISION,
        Step("refit", "Checking the fit for the chosen precisions", step_refit, writes="fit"),
        Step("convert", "Converting with hls4ml", step_convert, writes="project"),
        Step("compile", "Compiling C-simulation (g++)", step_compile, writes="compiled"),
        Step("estimate", "Estimating resources and latency", step_estimate, writes="estimate"),
    ),
    Step("csim_bridge", "C-simulation through the bridge", step_csim_bridge, writes="csim"),
    Step("testbench", "C-simulation through the testbench", step_testbench, writes="testbench"),
    CachedRTLSteps(
        Step("rtl", "Writing the RTL (da4ml)", step_rtl, writes="rtl"),
        Step("rtl_sim", "Simulating the RTL (Verilator)", step_rtl_sim, writes="rtl_sim"),
        Step("gates", "Synthesizing the RTL (yosys)", step_gates, writes="gates"),
    ),
    Step("pnr", "Placing and routing (nextpnr-ecp5)", step_pnr, writes="pnr"),
    Step("synthesis", "Vendor synthesis", step_synthesis, writes="synthesis"),
    Step("plots", "Plotting", step_plots, writes="closure_plot"),
)

# ``fpga-flow estimate``: the model loaded, checked and given its precisions the way the
# build does, nothing compiled (the estimate then prices its hls4ml graph,
# :mod:`fpga_flow.pipeline.estimate_only`). Without the fit: the estimate prices the
# settings it is given.
ESTIMATE_STEPS: tuple[Step, ...] = (LOAD, CHECK, PRECISION)

# The sweep's fit probe: a point's own fit step on the loaded model, before any point is
# built; the probe loads once and runs from "fit" for every further point.
FIT_PROBE_STEPS: tuple[Step, ...] = (LOAD, CHECK, FIT)


def step_titles(steps=BUILD_STEPS) -> dict[str, str]:
    """Every step's title by name, the cached ones included."""
    return titles(steps)

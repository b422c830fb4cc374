"""The pipeline: a build's steps, their one driver, the named step lists, and the one way
a run is published. Every command that runs steps or writes a run goes through it.

    context       BuildContext (what a build knows so far) and the steps' result types
    driver        Step, run_step/run_steps (INCOMPLETE marker, progress, timing, skip notes)
    steps         the design steps: load, check, fit, precision, refit, convert, compile, estimate
    check_steps   the check steps: C-simulation two ways, RTL, place and route, synthesis, plots
    design_cache  the build cache's key for a design and CachedSteps, the steps it holds
    rtl_cache     CachedRTLSteps: the RTL steps' results (rtl/, records) restored from the build cache
    flows         BUILD_STEPS (the map of the build), ESTIMATE_STEPS, FIT_PROBE_STEPS
    summarize     the summary from the context, and the checks it records
    publish       summary.json, the run page and the run history, for every run written
    run           run_build: the run directory, the steps, the summary published
    run_cache     run_build_cached: an unchanged rebuild restored without TensorFlow
    estimate_only fpga-flow estimate: ESTIMATE_STEPS, then the graph priced
    rtl_on_run    fpga-flow rtl RUN_DIR: the RTL steps on a finished run, published again
"""

from fpga_flow.pipeline.context import BuildContext, LoadedModel, Progress
from fpga_flow.pipeline.driver import Step, run_step, run_steps
from fpga_flow.pipeline.flows import BUILD_STEPS, ESTIMATE_STEPS, FIT_PROBE_STEPS, step_titles
from fpga_flow.pipeline.publish import publish
from fpga_flow.pipeline.run import run_build
from fpga_flow.pipeline.run_cache import run_build_cached

__all__ = [
    "BUILD_STEPS", "ESTIMATE_STEPS", "FIT_PROBE_STEPS", "BuildContext", "LoadedModel", "Progress", "Step", "publish",
    "run_build", "run_build_cached", "run_step", "run_steps", "step_titles",
]

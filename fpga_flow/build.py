"""The names ``fpga_flow.build`` had before the pipeline package: kept for the tests,
benchmarks and notebooks that import them. New code imports from :mod:`fpga_flow.pipeline`."""

from fpga_flow.pipeline.context import BuildContext, CsimCheck, LoadedModel, Progress, TestbenchCheck
from fpga_flow.pipeline.driver import Step, run_steps, skip_note
from fpga_flow.pipeline.flows import BUILD_STEPS, ESTIMATE_STEPS, FIT_PROBE_STEPS, step_titles
from fpga_flow.pipeline.run import check_model_reference, prepare_run_dir, run_build
from fpga_flow.pipeline.steps import hls_settings, step_check, step_fit, step_load, step_precision
from fpga_flow.pipeline.summarize import budget_check, make_summary, pnr_checks, rtl_check
from fpga_flow.summary import run_status, verdict

__all__ = [
    "BUILD_STEPS", "ESTIMATE_STEPS", "FIT_PROBE_STEPS", "BuildContext", "CsimCheck", "LoadedModel", "Progress", "Step",
    "TestbenchCheck", "budget_check", "check_model_reference", "hls_settings", "make_summary", "pnr_checks", "prepare_run_dir",
    "rtl_check", "run_build", "run_status", "run_steps", "skip_note", "step_check", "step_fit", "step_load",
    "step_precision", "step_titles", "verdict",
]

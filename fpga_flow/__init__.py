"""fpga-flow: quantization-aware networks to board-targeted, C-simulation-checked HLS projects.

The public Python API is :mod:`fpga_flow.api` (``from fpga_flow import api``). Its
functions that share no name with a stage module are also importable from here
(``from fpga_flow import recipes, parse_reports``), as are the main classes; they load
on first use, so ``import fpga_flow`` does not import TensorFlow. ``train``, ``build``,
``dashboard`` and ``boards`` are ``fpga_flow.api.*`` only: here those names are the
stage modules.
"""

import os

__version__ = "0.1.0"

# TensorFlow 2.14's oneDNN kernels crash now and then while training tiny_resnet (its 1x1
# stride-2 shortcuts' Conv2DBackpropFilter: "could not create a primitive descriptor for a
# reorder primitive", or "corrupted double-linked list"); its Eigen kernels do not (30
# epochs, 98 s). Read by TensorFlow when it is imported, so set here, before.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# hls4ml learns fpga-flow's own layer (quantized attention) when that layer is imported
# (fpga_flow/attention/layer.py), not here: ``import fpga_flow`` and an unchanged rebuild
# answered from the run cache do not import hls4ml.

_LAZY = {
    "recipes": "fpga_flow.api", "train_float_baseline": "fpga_flow.api", "parse_reports": "fpga_flow.api",
    "run_history": "fpga_flow.api",
    "BuildConfig": "fpga_flow.config", "run_build": "fpga_flow.pipeline", "RunSummary": "fpga_flow.summary",
    "read_summary": "fpga_flow.summary",
    "TrainedModel": "fpga_flow.train", "train_recipe": "fpga_flow.train", "trained_or_train": "fpga_flow.train",
    "Board": "fpga_flow.boards", "get_board": "fpga_flow.boards", "load_boards": "fpga_flow.boards",
    "RunHistory": "fpga_flow.history", "FlowError": "fpga_flow.errors",
}
__all__ = ["__version__", "api", *_LAZY]


def __getattr__(name: str):
    if name == "api":
        import importlib

        return importlib.import_module("fpga_flow.api")
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fpga_flow' has no attribute '{name}'")

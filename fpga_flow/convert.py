"""Stage ``convert``: a Keras/QKeras model to an hls4ml project for a board.

Besides hls4ml's own files, the project gets ``bridge.json``: the shapes of the model's
inputs, outputs and traced layers, which is all the C-simulation needs to call the
compiled library without the hls4ml graph (so a cached project is usable as it is). The
build's convert step adds ``design.json`` beside it, the description the resource
estimate prices (:func:`fpga_flow.estimate.write_design`: the estimate builds on the
converted graph, so conversion does not call it).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fpga_flow.boards import Board
from fpga_flow.compat import patch_hls4ml_conv2d_batchnorm, tie_state_quantizer_types
from fpga_flow.errors import UnsupportedModelError, UserInputError
from fpga_flow.layers import (  # noqa: F401 (IO_TYPES ... canonical_strategy re-exported)
    DISTRIBUTED_ARITHMETIC,
    FIT_STRATEGIES,
    IO_TYPES,
    STRATEGIES,
    canonical_strategy,
    is_distributed_arithmetic,
)
from fpga_flow.records.hls import HLSSettings, validated_hls_settings  # noqa: F401 (re-exported)
from fpga_flow.stream_depths import fitted_depths, set_stream_depths

DA_BACKENDS = ("Vivado", "Vitis")  # hls4ml 1.3.0's DistributedArithmeticCodegen asserts one of these
PROJECT_NAME = "myproject"
BRIDGE_SPEC = "bridge.json"


@dataclass(frozen=True)
class HLSProject:
    """A written hls4ml project, and the graph it came from when this process converted
    it (None for a project copied from the build cache: everything after conversion
    reads the project's files, ``bridge.json`` included)."""

    output_dir: Path
    graph: Any = field(repr=False, default=None)

    @property
    def bridge_spec(self) -> dict[str, Any]:
        return json.loads((self.output_dir / BRIDGE_SPEC).read_text())


def base_hls_config(model, settings: HLSSettings, backend: str) -> dict[str, Any]:
    """hls4ml's per-layer configuration for ``model`` with the user's strategy and reuse factor."""
    import hls4ml  # deferred: hls4ml (seconds to import; the CLI's start and a run-cache hit never load it)

    if settings.strategy == DISTRIBUTED_ARITHMETIC and backend not in DA_BACKENDS:
        raise UserInputError(f"strategy {DISTRIBUTED_ARITHMETIC}: hls4ml {hls4ml.__version__} generates it for the "
                             f"{' and '.join(DA_BACKENDS)} backends only, not {backend}: choose a board with one of them")
    with contextlib.redirect_stdout(io.StringIO()), _conversion_errors():
        config = hls4ml.utils.config_from_keras_model(
            model,
            granularity="name",
            backend=_config_backend(backend),
            default_precision=settings.default_precision,
            default_reuse_factor=settings.reuse_factor,
        )
    config["Model"]["Strategy"] = settings.strategy
    tie_state_quantizer_types(model, config)  # without it the C++ does not compile
    for layer_config in config["LayerName"].values():
        if "ReuseFactor" in layer_config:
            layer_config["ReuseFactor"] = settings.reuse_factor
        layer_config["Trace"] = True
    return config


def _config_backend(backend: str) -> str:
    return "Vivado" if backend == "VivadoAccelerator" else backend


def convert(model, board: Board, settings: HLSSettings, output_dir: str | Path, hls_config: dict[str, Any],
            before_write: Callable[[Any], None] | None = None) -> HLSProject:
    """Convert and write the project for ``board``; conversion errors name the layer.

    Besides hls4ml's files the project gets ``bridge.json`` (see the module docstring).
    ``before_write`` gets the hls4ml graph after conversion and before it is written, to set
    what depends on the converted types (deploy chooses the AXI word types from them)."""
    output_dir = Path(output_dir)
    log = io.StringIO()
    graph = model_graph(model, board, settings, output_dir, hls_config, log)  # converts a copy of hls_config
    with _conversion_errors(), contextlib.redirect_stdout(log):
        if before_write is not None:
            before_write(graph)
        graph.write()
    (output_dir / "convert.log").write_text(log.getvalue(), encoding="utf-8")
    _write_bridge_spec(graph, output_dir)
    return HLSProject(output_dir, graph)


def model_graph(model, board: Board, settings: HLSSettings, output_dir: str | Path, hls_config: dict[str, Any],
                log: io.StringIO | None = None):
    """hls4ml's ModelGraph for ``board``, converted and optimized but not written (hls4ml
    only records ``output_dir``), with tracing on."""
    import hls4ml  # deferred: hls4ml (seconds to import; the CLI's start and a run-cache hit never load it)

    patch_hls4ml_conv2d_batchnorm()  # hls4ml 1.3.0 scrambles a Resource QConv2DBatchnorm's kernel otherwise
    kwargs: dict[str, Any] = {}
    if board.backend == "VivadoAccelerator":
        kwargs["board"] = board.accelerator_board
    with _conversion_errors(), contextlib.redirect_stdout(log if log is not None else io.StringIO()):
        graph = hls4ml.converters.convert_from_keras_model(
            model,
            hls_config=copy.deepcopy(hls_config),
            output_dir=str(output_dir),
            project_name=PROJECT_NAME,
            part=board.part,
            backend=board.backend,
            io_type=settings.io_type,
            clock_period=settings.clock_period_ns,
            **kwargs,
        )
    if settings.io_type == "io_stream" and fitted_depths(hls_config):
        set_stream_depths(graph)  # hls4ml makes each stream as deep as its whole feature map
    # Tracing code is compiled only outside synthesis (#ifndef __SYNTHESIS__), so
    # the firmware is unchanged; the closure compares per-layer outputs.
    graph.config.trace_output = True
    return graph


HLS4ML_REFUSALS = (RuntimeError, ValueError, KeyError, TypeError, AttributeError, NotImplementedError, AssertionError)


@contextlib.contextmanager
def _conversion_errors():
    import hls4ml  # deferred: hls4ml (seconds to import; the CLI's start and a run-cache hit never load it)

    try:
        yield
    except Exception as exc:
        # hls4ml 1.3.0's Keras parsers refuse what they do not support with a bare
        # ``Exception`` (converters/keras/core.py, parse_layernorm_layer) or trip over it
        # (KeyError, AssertionError...): a user's model, one line. Anything else is ours.
        if not (type(exc) is Exception or isinstance(exc, HLS4ML_REFUSALS)):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(f"hls4ml {hls4ml.__version__} cannot convert this model: {message[:300]}") from None


def _write_bridge_spec(graph, output_dir: Path) -> None:
    (output_dir / BRIDGE_SPEC).write_text(json.dumps(bridge_spec(graph), indent=2), encoding="utf-8")


def bridge_spec(graph) -> dict[str, Any]:
    """What a caller of the design needs besides the graph: input/output sizes, the traced
    layers (a layer traces when it has a C++ call and tracing on) and every type."""
    traced = {
        layer.name: [int(d) for d in layer.get_output_variable().shape]
        for layer in graph.get_layers()
        if layer.get_attr("function_cpp", None) and layer.get_attr("trace", False)
    }
    return {
        "project": PROJECT_NAME,
        "inputs": [{"name": v.name, "size": int(v.size())} for v in graph.get_input_variables()],
        "outputs": [{"name": v.name, "size": int(v.size())} for v in graph.get_output_variables()],
        "traced_layers": traced,
        "layer_precisions": layer_precisions(graph),
    }


def layer_precisions(graph) -> dict[str, dict[str, str]]:
    """The C++ type hls4ml chose for each layer's output and weights, after its passes."""
    found: dict[str, dict[str, str]] = {}
    for layer in graph.get_layers():
        types = {"result": layer.get_output_variable().type.precision.definition_cpp()}
        for name, weight in layer.weights.items():
            types[name] = weight.type.precision.definition_cpp()
        for attr, value in layer.attributes.items():
            precision = getattr(getattr(value, "precision", None), "definition_cpp", None)
            if attr.endswith("_t") and precision is not None:
                types.setdefault(attr[:-2], precision())
        found[layer.name] = types
    return found

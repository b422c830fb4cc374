"""The names every part of fpga-flow agrees on, each defined here once: resource kinds,
hls4ml/Keras layer classes, HLS strategies and io types, precision policies, and the one
test of the distributed-arithmetic strategy. The one parser of fixed-point type
spellings is :meth:`fpga_flow.fixed.FixedType.parse`.

A leaf: it imports nothing of fpga_flow, so any module, record or engine, may import it
(``tests/test_layers.py`` checks that each name below has no second definition under
``fpga_flow/``).
"""

from __future__ import annotations

from typing import Any

# The resource kinds every figure (board, estimate, vendor report) is counted in, in the
# order tables show them (BRAM in 18Kb halves); boards.Resources declares these fields.
RESOURCE_KEYS = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")
# The ones the estimate prices (no part the calibration pairs hold uses UltraRAM).
ESTIMATED_RESOURCE_KEYS = RESOURCE_KEYS[:4]

# hls4ml 1.3 layer classes with a plain dense or convolution kernel: the layers hls4ml's
# distributed-arithmetic pass handles, and whose Keras parents carry a float ``kernel``.
KERNEL_CLASSES = ("Dense", "Conv1D", "Conv2D")
# hls4ml's recurrent classes: they use their reuse factor for a second (recurrent) product.
RECURRENT_HLS_CLASSES = ("LSTM", "GRU")
# fpga-flow's own hls4ml layer classes (fpga_flow.attention's QMHSA) whose kernel has one
# form: hls4ml 1.3.0 keeps any reuse factor on them (init_base_layer sets the configured
# one; no backend validates it), their C++ does not depend on it (it is only the PIPELINE's
# II), so the fit tunes their reuse factor under the Latency strategy alone.
LATENCY_ONLY_CLASSES = ("QMHSA",)
# The classes the fit tunes: those whose reuse factor hls4ml 1.3's backend validates
# (get_layer_mult_size knows them: it matches "Conv2D" in the class name, so the folded
# QConv2DBatchnorm and the pointwise form hls4ml gives a 1x1 convolution take the plain
# convolution's n_in and n_out), and the latency-only ones.
TUNED_CLASSES = (KERNEL_CLASSES + ("Conv2DBatchnorm", "PointwiseConv1D", "PointwiseConv2D") + RECURRENT_HLS_CLASSES
                 + LATENCY_ONLY_CLASSES)
# The Keras/QKeras recurrent layers hls4ml 1.3.0 converts; a Bidirectional layer wraps two of them.
RECURRENT_KERAS_CLASSES = ("QSimpleRNN", "QLSTM", "QGRU", "SimpleRNN", "LSTM", "GRU", "Bidirectional")
# QKeras layer class -> the Keras class it quantizes (a float copy of a model swaps them).
QKERAS_TO_KERAS = {"QDense": "Dense", "QConv2D": "Conv2D", "QConv1D": "Conv1D", "QLSTM": "LSTM", "QGRU": "GRU",
                   "QSimpleRNN": "SimpleRNN", "QActivation": "Activation"}

IO_TYPES = ("io_parallel", "io_stream")
DISTRIBUTED_ARITHMETIC = "distributed_arithmetic"  # hls4ml 1.3.0's da4ml adder graphs (needs hls4ml[da])
LATENCY, RESOURCE = "Latency", "Resource"  # hls4ml's spellings of its two HLS strategies
STRATEGIES = (LATENCY, RESOURCE, DISTRIBUTED_ARITHMETIC)
# The strategies the estimate is calibrated on, so the ones --fit chooses among: the
# real report pairs hold no distributed_arithmetic design (its cost is da4ml's, see fpga_flow.rtl).
FIT_STRATEGIES = STRATEGIES[:2]
# The same two strategies as keys: lowercase, as the estimate's Design records them and as
# hls4ml's layer attributes are compared (strategy_key gives the key of any spelling).
LATENCY_KEY, RESOURCE_KEY = LATENCY.lower(), RESOURCE.lower()
STRATEGY_KEYS = (LATENCY_KEY, RESOURCE_KEY)
# Precision policies of a build (fpga_flow.precision says what each does).
POLICIES = ("default", "auto", "closure")


def canonical_strategy(name: Any) -> Any:
    """A strategy as hls4ml spells it, from any capitalization; anything else unchanged."""
    return {s.lower(): s for s in STRATEGIES}.get(name.lower(), name) if isinstance(name, str) else name


def strategy_key(name: Any) -> str:
    """A strategy's lowercase key from any spelling (``"Resource"`` -> ``"resource"``)."""
    return str(name).lower()


def layer_strategy_key(layer: Any) -> str:
    """The strategy key of an hls4ml layer: hls4ml builds a layer without one as Latency."""
    return strategy_key(layer.get_attr("strategy", LATENCY))


def is_distributed_arithmetic(strategy: Any) -> bool:
    """Whether hls4ml builds a layer of this strategy as da4ml adder graphs: its Vivado
    backend tests ``get_strategy(layer).lower() in ('distributed_arithmetic', 'da')``
    (hls4ml 1.3.0 vivado_backend.py) and stores the name snake-cased."""
    return str(strategy or "").lower() in (DISTRIBUTED_ARITHMETIC, "da")


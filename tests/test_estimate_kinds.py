"""Every layer the build accepts is priced: each kind of issue 20's list converted by
hls4ml and priced with the multipliers counted by hand, and no layer of a zoo recipe or
a peer model priced as unknown or at nothing (wiring excepted, and named as such)."""

from __future__ import annotations

import pytest

from conftest import SHARED, recipe_model

PEERS = SHARED / "peer_models"


def _design(model, io_type: str = "io_parallel", strategy: str = "Latency"):
    import fpga_flow  # noqa: F401  (registers the attention layer with hls4ml)
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config, model_graph
    from fpga_flow.estimate.from_graph import describe_graph

    board = get_board("pynq-z2")
    settings = HLSSettings(io_type=io_type, strategy=strategy, reuse_factor=1, clock_period_ns=board.clock_period_ns)
    graph = model_graph(model, board, settings, "unwritten", base_hls_config(model, settings, board.backend))
    return describe_graph(graph, board, board.clock_period_ns)


def _ones(layers):
    """Every weight, bias and batchnorm statistic 1: no (folded) weight is zero, so the
    count of multiplications is the layer's arithmetic, countable by hand."""
    for layer in layers:
        layer.set_weights([w * 0 + 1 for w in layer.get_weights()])


def _kind_models():
    """(name, model, {layer: (kind, multiplications per application)}) for each new kind."""
    import tensorflow as tf
    from qkeras import QConv2DBatchnorm, QDepthwiseConv2D

    layers = tf.keras.layers
    bits = "quantized_bits(8,0,alpha=1)"
    x = layers.Input((8, 8, 3), name="x")
    yield "qconv2dbatchnorm", layers.Flatten()(QConv2DBatchnorm(4, 3, kernel_quantizer=bits, bias_quantizer=bits,
                                                                name="cbn")(x)), x, \
        {"cbn": ("conv2d", 3 * 3 * 3 * 4)}  # window 3x3 x 3 channels x 4 filters
    x = layers.Input((8, 8, 3), name="x")
    yield "qdepthwise", layers.Flatten()(QDepthwiseConv2D(3, depthwise_quantizer=bits, bias_quantizer=bits,
                                                          name="dw")(x)), x, \
        {"dw": ("depthwise_conv2d", 3 * 3 * 3)}  # one 3x3 kernel per channel
    x = layers.Input((8, 8, 3), name="x")
    yield "separable2d", layers.Flatten()(layers.SeparableConv2D(4, 3, name="sep")(x)), x, \
        {"sep_depthwise": ("depthwise_conv2d", 3 * 3 * 3), "sep_pointwise": ("pointwise_conv2d", 3 * 4)}
    x = layers.Input((16, 3), name="x")
    yield "separable1d", layers.Flatten()(layers.SeparableConv1D(4, 3, name="sep")(x)), x, \
        {"sep_depthwise": ("depthwise_conv1d", 3 * 3), "sep_pointwise": ("pointwise_conv1d", 3 * 4)}
    x = layers.Input((8, 8, 3), name="x")
    yield "pointwise", layers.Flatten()(layers.Conv2D(4, 1, name="pw")(x)), x, {"pw": ("pointwise_conv2d", 3 * 4)}
    x = layers.Input((6, 3), name="x")
    yield "simplernn", layers.SimpleRNN(4, name="rnn")(x), x, \
        {"rnn": ("simple_rnn", 3 * 4 + 4 * 4)}  # input kernel 3x4 + recurrent kernel 4x4 per step
    x = layers.Input((6, 6, 2), name="x")
    h = layers.UpSampling2D(2, name="up")(layers.ZeroPadding2D(1, name="pad")(x))
    yield "pad_up_gap", layers.GlobalAveragePooling2D(name="gap")(h), x, \
        {"pad": ("zeropad2d", 0), "up": ("upsampling2d", 0), "gap": ("global_pooling2d", 0)}
    x = layers.Input((6, 6, 2), name="x")
    conv = layers.Conv2D(2, 3, padding="same", name="conv")(x)
    joined = layers.Concatenate(name="cat")([layers.Add(name="add")([conv, x]), x])
    yield "resnet_skip", layers.GlobalMaxPooling2D(name="gmp")(joined), x, \
        {"conv": ("conv2d", 3 * 3 * 2 * 2), "add": ("merge", 0), "cat": ("concatenate", 0), "gmp": ("global_pooling2d", 0)}


KIND_MODELS = ["qconv2dbatchnorm", "qdepthwise", "separable2d", "separable1d", "pointwise", "simplernn", "pad_up_gap",
               "resnet_skip"]


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("name", KIND_MODELS)
def test_each_new_kind_is_priced_with_its_hand_counted_multipliers(name, io_type):
    import tensorflow as tf

    from fpga_flow.estimate import price
    from fpga_flow.estimate.design import is_wiring

    output, inputs, expected = next((out, x, exp) for found, out, x, exp in _kind_models() if found == name)
    model = tf.keras.Model(inputs, output)
    _ones(model.layers)
    design = _design(model, io_type)
    estimate = price(design)
    assert estimate.unpriced_layers == []
    layers = {layer.name: layer for layer in design.layers}
    priced = {layer.layer: layer for layer in estimate.per_layer}
    for layer_name, (kind, multiplications) in expected.items():
        assert layers[layer_name].kind == kind, layers[layer_name]
        assert sum(p.n_nonzero for p in layers[layer_name].products) == multiplications, layer_name
        figures = priced[layer_name]
        assert figures.priced and figures.multipliers == multiplications * _copies(layers[layer_name]), figures
        if not is_wiring(layers[layer_name]):
            assert figures.LUT + figures.DSP + figures.BRAM_18K > 0, f"{layer_name} priced at nothing"
    # Copies of data are wires in io_parallel only; in io_stream each is a process.
    copies = {n for n, layer in layers.items() if is_wiring(layer) and layer.kind != "reshape"}
    assert not copies or io_type == "io_parallel", copies


def _copies(layer) -> int:
    """Multipliers of one application times the copies working side by side."""
    return max((p.parallel for p in layer.products), default=1)


def test_a_merge_of_two_computed_operands_prices_its_products():
    """Multiply of two tensors: one general multiplier per element, none a constant."""
    import tensorflow as tf

    layers = tf.keras.layers
    x = layers.Input((8,), name="x")
    a, b = layers.Dense(8, name="a")(x), layers.Dense(8, name="b")(x)
    model = tf.keras.Model(x, layers.Multiply(name="mul")([a, b]))
    design = _design(model)
    mul = next(layer for layer in design.layers if layer.name == "mul")
    assert mul.kind == "merge" and mul.function == "multiply"
    assert [(p.n_in, p.n_out, p.constant) for p in mul.products] == [(1, 8, False)]


def _zoo_models():
    from model_zoo import recipes

    for name, recipe in sorted(recipes().items()):
        yield f"zoo:{name}", recipe_model(name)[0], recipe.hls.io_type


def _peer_models():
    """The peer models the build accepts (it refuses, in one line at load, the ones with
    layers Keras and QKeras do not define or hls4ml refuses: not the estimate's to price)."""
    from fpga_flow.errors import UserInputError
    from fpga_flow.model_io import load_keras_model

    if not PEERS.is_dir():
        pytest.skip(f"{PEERS} missing: the shared peer models are beside the clone in CI")
    for folder in sorted(p for p in PEERS.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.json"))
        try:
            model = load_keras_model(files[0], folder / f"{files[0].stem}_weights.h5") if files else \
                load_keras_model(sorted(folder.glob("*.h5"))[0])
        except UserInputError:
            continue
        yield f"peer:{folder.name}", model, "io_parallel"


@pytest.mark.parametrize("source", ["zoo", "peer"])
def test_no_layer_of_a_zoo_recipe_or_peer_model_is_priced_as_unknown_or_at_nothing(source):
    from fpga_flow.errors import UnsupportedModelError
    from fpga_flow.estimate import price
    from fpga_flow.estimate.design import is_wiring

    failures, seen = [], []
    for name, model, io_type in (_zoo_models() if source == "zoo" else _peer_models()):
        for io in sorted({io_type, "io_stream"} if source == "zoo" else {io_type}):
            try:
                design = _design(model, io)
            except UnsupportedModelError:
                continue  # the build refuses it in one line before any work: nothing to price
            seen.append(f"{name} {io}")
            estimate = price(design)
            wiring = {layer.name for layer in design.layers if is_wiring(layer)}
            for layer in estimate.per_layer:
                if not layer.priced:
                    failures.append(f"{name} {io}: {layer.layer} ({layer.kind}) not priced: {layer.notes}")
                elif layer.layer not in wiring and not (layer.LUT or layer.DSP or layer.BRAM_18K or layer.FF):
                    failures.append(f"{name} {io}: {layer.layer} ({layer.kind}) priced at nothing")
    assert len(seen) >= 6, seen
    assert not failures, "\n".join(failures)

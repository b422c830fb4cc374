"""LSTM and GRU as hls4ml 1.3.0's ``nnet_recurrent.h`` computes them (``lstm_static`` /
``gru_static``; the non-static variants compile only with the types tied, and then
compute the same), time step by time step, vectorized over samples.

Per step, with ``accum_t`` the layer's accumulator and ``res_T`` its result (the state):

LSTM (gates i, f, c, o in Keras order)::

    tmpres       = dense<data_T, accum_t>(x_t, W, b)             # mult_config1
    tmpres_state = dense<res_T, accum_t>(h, W_r, b_r)            # mult_config2
    ifo = (accum_t)(tmpres + tmpres_state) over gates i, f, o; c likewise
    ifo = recurrent_activation<accum_t, accum_t>(ifo); c = activation<accum_t, accum_t>(c)
    s   = (res_T)(c * i + s * f)                                  # exact products and sum
    h   = (res_T)(o * activation<res_T, accum_t>(s))

GRU (gates z, r, h; reset after the recurrent product)::

    zr  = recurrent_activation((accum_t)(tmpres + tmpres_state) over z, r)
    hh  = (accum_t)(r * tmpres_state[h]); hh = activation((accum_t)(tmpres[h] + hh))
    h   = (res_T)(hh * (1 - z) + h * z)
"""

from __future__ import annotations

import numpy as np

from fpga_flow.emulate import arith, kernels
from fpga_flow.emulate.builders import LOOKUP_ACTIVATIONS, Run, _attr_type, _input, _result, dense_spec
from fpga_flow.emulate.kernels import Schedule, Tensor
from fpga_flow.errors import NotEmulableError, StageFailedError
from fpga_flow.fixed import FixedType
from fpga_flow.layers import LATENCY_KEY, layer_strategy_key

RECURRENT_ACTIVATIONS = ("sigmoid", "tanh", "relu")


def _activation(layer, name: str):
    """``nnet::activation::<name>`` on one array: data type in, result type out."""
    if name == "relu":
        return lambda x, result: kernels.relu(x, result)
    if name not in RECURRENT_ACTIVATIONS:
        raise NotEmulableError(f"layer {layer.name}: recurrent activation {name} is not emulated")
    build_table, input_range = LOOKUP_ACTIVATIONS[name]
    # both activation configs take the layer's table_t and table_size
    table_type = _attr_type(layer, "table_t")
    table = build_table(int(layer.get_attr("table_size")), table_type)
    return lambda x, result: kernels.lookup(x, table, table_type, input_range, result)


def _recurrent_schedule(layer, n_in: int, n_out: int) -> Schedule:
    if layer_strategy_key(layer) == LATENCY_KEY:
        return Schedule.in_order(n_in, n_out)
    return Schedule.resource(n_in, n_out, int(layer.get_attr("recurrent_reuse_factor")))


def build_recurrent_layer(layer) -> Run:
    cell = layer.class_name
    for refused in ("pass_initial_states", "return_state", "time_major"):
        if layer.get_attr(refused, False):
            raise NotEmulableError(f"layer {layer.name}: {refused} is not emulated")
    if layer.get_attr("direction", "forward") != "forward":
        raise NotEmulableError(f"layer {layer.name}: backward recurrence is not emulated")
    gates = 4 if cell == "LSTM" else 3
    n_in, n_state = int(layer.get_attr("n_in")), int(layer.get_attr("n_out"))
    data, accum, state = _input(layer), _attr_type(layer, "accum_t"), _result(layer)
    if cell == "LSTM" and not data == state == accum:
        # lstm_stack instantiates the non-static lstm too, whose dense<data_T, res_T> calls
        # write accum_t arrays and read the res_T state as data_T: g++ refuses the design
        raise StageFailedError(f"layer {layer.name}: hls4ml's LSTM C++ compiles only when its input ({data}), "
                               f"result ({state}) and accumulator ({accum}) are one type")
    inputs = dense_spec(layer, n_in, gates * n_state)
    recurrent = dense_spec(layer, n_state, gates * n_state, "recurrent_weight", "recurrent_bias",
                           _recurrent_schedule(layer, n_state, gates * n_state))
    act = _activation(layer, str(layer.get_attr("activation")).lower())
    recurrent_act = _activation(layer, str(layer.get_attr("recurrent_activation")).lower())
    sequences = bool(layer.get_attr("return_sequences", False))
    pytorch = bool(layer.get_attr("pytorch", False))
    step = _lstm_step if cell == "LSTM" else _gru_step

    def run(tensors: list[Tensor]) -> Tensor:
        x = tensors[0]
        n = len(x.raw)
        steps = x.raw.reshape(n, -1, n_in)
        h = np.zeros((n, n_state), dtype=np.int64)
        s = np.zeros((n, n_state), dtype=np.int64)
        outputs = []
        for t in range(steps.shape[1]):
            tmpres = arith.cast(kernels.dense(Tensor(steps[:, t], data), inputs), inputs.accum, accum)
            tmpres_state = arith.cast(kernels.dense(Tensor(h, state), recurrent), recurrent.accum, accum)
            h, s = step(tmpres, tmpres_state, s, n_state, accum, state, act, recurrent_act, pytorch, h)
            outputs.append(h)
        out = np.stack(outputs, axis=1) if sequences else outputs[-1]
        return Tensor(out, state)

    return run


def _sum(a: np.ndarray, b: np.ndarray, t: FixedType) -> np.ndarray:
    words, exact = arith.add(a, t, b, t)
    return arith.cast(words, exact, t)


def _lstm_step(tmpres, tmpres_state, s, n, accum, state, act, recurrent_act, pytorch, h):
    gates = _sum(tmpres, tmpres_state, accum)
    ifo = np.concatenate([gates[:, : 2 * n], gates[:, 3 * n:]], axis=1)
    ifo = recurrent_act(Tensor(ifo, accum), accum)
    c = act(Tensor(gates[:, 2 * n: 3 * n], accum), accum)
    i, f, o = ifo[:, :n], ifo[:, n: 2 * n], ifo[:, 2 * n:]
    new_in, t_in = arith.product(c, accum, i, accum)
    kept, t_kept = arith.product(s, state, f, accum)
    total, t_total = arith.add(new_in, t_in, kept, t_kept)
    s = arith.cast(total, t_total, state)
    s_act = act(Tensor(s, state), accum)
    words, t = arith.product(o, accum, s_act, accum)
    return arith.cast(words, t, state), s


def _gru_step(tmpres, tmpres_state, s, n, accum, state, act, recurrent_act, pytorch, h):
    zr = recurrent_act(Tensor(_sum(tmpres[:, : 2 * n], tmpres_state[:, : 2 * n], accum), accum), accum)
    z, r = (zr[:, n:], zr[:, :n]) if pytorch else (zr[:, :n], zr[:, n:])
    reset, t_reset = arith.product(r, accum, tmpres_state[:, 2 * n:], accum)
    candidate = _sum(tmpres[:, 2 * n:], arith.cast(reset, t_reset, accum), accum)
    hh = act(Tensor(candidate, accum), accum)
    one = arith.int_type(32)
    keep_out, t_keep_out = arith.subtract(np.ones_like(z), one, z, accum)  # 1 - z, exact
    new, t_new = arith.product(hh, accum, keep_out, t_keep_out)
    old, t_old = arith.product(h, state, z, accum)
    total, t_total = arith.add(new, t_new, old, t_old)
    return arith.cast(total, t_total, state), s

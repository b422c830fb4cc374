"""Stage ``fit``: choose, per layer, the reuse factor and strategy, and for the whole
model the io type, so that the design fits the board by estimate, with the least
latency (or, given a target latency, the least resources that meet it).

**What is chosen.** The layers whose reuse factor hls4ml 1.3.0's backend validates
(:data:`TUNED_CLASSES`: Dense, Conv1D, Conv2D, LSTM, GRU and their folded or pointwise
forms) get a strategy (Latency or
Resource) and a reuse factor each; every other layer keeps its configuration. Only
reuse factors hls4ml keeps are offered: those of the backend's own
``get_valid_reuse_factors(n_in, n_out)`` for the layer's multiplication
(``get_layer_mult_size``). Under the Resource strategy hls4ml replaces any other value
by the nearest valid one (``set_closest_reuse_factor``, with a printed warning);
under Latency it keeps any value, and the same list is offered, because a value off
the list leaves multipliers idle. A recurrent layer uses its reuse factor for the
input and the recurrent products (``recurrent_reuse_factor``), so it must be valid for
both. Our attention layer (QMHSA, :data:`LATENCY_ONLY_CLASSES`) has one kernel: it takes
the Latency strategy and a reuse factor of :func:`attention_reuse_factors`, which hls4ml
keeps (it validates none on that layer) and the written config struct carries. The io
type (io_parallel or io_stream) is chosen for the whole model.

**No arithmetic changes.** The fitted design computes what the unfitted one does, bit
for bit, because the search only offers changes that keep every sum's order of
additions or that make the order irrelevant:

* In the Latency kernels (``dense_latency``, ``conv_1d/2d_latency_cl``, and the
  recurrent kernels' products) the reuse factor appears only in pragmas (``PIPELINE
  II``, ``ALLOCATION``): the C++ is the same for every reuse factor. So in our
  attention kernel (``nnet_qmhsa.h``), whose only use of it is ``PIPELINE II``: its
  saturating sums keep their order at every reuse factor
  (``tests/test_attention_fit.py`` compares the C-simulations at R = 1 and R = 16).
* The Resource kernels (``dense_resource_rf_leq_nin``, ``conv_2d_resource_cl``) add a
  neuron's products in another order (by ``w_index mod R`` first). Every kernel casts
  each product to ``accum_t`` before adding it, the same way, so the sums differ only
  when an addition overflows ``accum_t``: with wrap-around (AP_WRAP, hls4ml's default)
  addition is modular and the order does not matter; with a saturating ``accum_t``
  (AP_SAT*, which the precision closure chooses when it widens an accumulator) a
  saturated partial sum depends on the order. So a layer whose accumulator saturates
  keeps its unfitted strategy: under Latency it may take any reuse factor, under
  Resource it keeps its reuse factor too (:func:`layer_choices`).
* (For a refit after the closure; the build's first fit, before anything is measured,
  searches both io types: ``keep_arithmetic`` of :func:`fit_design`.) io_stream runs
  the same per-pixel arithmetic as io_parallel for the layer kinds of
  :data:`STREAM_SAME_ARITHMETIC` (a convolution's window is read in the order its
  weights are stored in both, softmax and activations are element-wise or the same
  slice code); a max pooling whose accumulator holds every input value exactly (the
  stream kernel converts the window to ``accum_t`` before taking the max, the parallel
  one after, which agree only then). Our attention layer's io_stream overload projects
  each token as it arrives and runs the same attention, adding the same products in the
  same order (the same C-simulation words, tested). Average and global pooling (a tree sum in io_stream, a running sum in
  io_parallel) and recurrent layers are not, so a model with any of them keeps its io
  type (:func:`stream_keeps_arithmetic`).

**The fit first, before any C++ is compiled.** The build fits the design on the
precisions its policy starts from (hls4ml's defaults, or the inferred ones for ``auto``
and ``closure``: the closure widens from those), so the precision closure measures, and
its compile fallback compiles, the fitted design, never one the estimate says cannot
fit. Widths decide cost, so once the closure has chosen its precisions the plan is
priced again (:func:`recheck`); when they no longer fit, the fit runs again on them
(starting from the plan: a saturating accumulator the closure chose keeps its strategy,
below), and the strategies and reuse factors it changes do not change those
precisions' arithmetic, so the closure's agreement holds for the refitted design.
When no plan fits, the build stops there with one line naming the smallest share
reached (:class:`DoesNotFitError`), unless ``--allow-over-budget``.

**Options given explicitly are constraints.** ``--io-type`` fixes the io type,
``--strategy`` every tuned layer's strategy, ``--reuse-factor`` every tuned layer's
reuse factor (it must be one hls4ml keeps for each of them, else the build stops with
the values it would keep). The recipe's defaults are not constraints: they describe
the unfitted design, the one the fit is compared with. ``--strategy
distributed_arithmetic`` turns the fit off (da4ml's adder graphs are not a strategy
the estimate is calibrated on): the design is built as given and only the budget
check applies.

**The objective.** With ``--budget B`` (default 0.8: the headroom routing needs) every
resource (LUT, FF, DSP, BRAM_18K) of the estimate's csynth figures must be at most B
of the board's; among those plans the fit takes the least latency (then the least
peak utilization). With ``--target-latency T`` it takes the least peak utilization
(the largest share of the board any resource uses) among the plans within budget
whose latency is at most T; when none meets T, the fastest plan within budget, and the
build says by how much T is missed. When no plan fits, the plan of least peak
utilization is kept and the build fails naming the resource.

**The search** (all pricing by :func:`fpga_flow.estimate.price`, nothing compiled):

1. For each io type, the model is converted to an hls4ml graph (not written) with the
   chosen precisions and described once. Each layer option is priced alone (a layer's
   figures do not depend on the other layers' plans); options another option of the
   same layer beats in every resource and in latency are dropped.
2. A depth-first branch and bound over the tuned layers (:func:`search`) bounds each
   partial plan by its layers' figures plus the cheapest and fastest options of the
   layers still open (a design's resources are the sum of its layers', its latency
   the sum in io_parallel and at least the slowest layer's in io_stream) and prices
   each whole plan it reaches. It keeps the :data:`PLANS_PRICED` best plans of each
   goal: the fastest within budget, the least peak share meeting the target, the
   least peak share at all (what is reported when nothing fits).
3. The choice is made on the whole-plan figures. The chosen plan is converted once
   more: hls4ml must keep every planned value (:func:`check_plan_kept`), and its own
   description gives the chosen figures. (They equal the planned ones, but for the
   interval: hls4ml makes an io_parallel design DATAFLOW when a layer takes the
   Resource strategy, which a plan does not say.) Only that plan is written and
   compiled (the build's next steps).

**Modules** (each with one reason to change): :mod:`.records` (the request and the
result), :mod:`.options` (what a layer may become), :mod:`.pricing` (options and plans
priced), :mod:`.search` (the branch and bound), :mod:`.hls4ml_plan` (a plan applied to
hls4ml and checked), :mod:`.fitting` (:func:`fit_design`, :func:`recheck`).
"""

from fpga_flow.fit.fitting import choose, fit_design, recheck
from fpga_flow.fit.hls4ml_plan import check_plan_kept, fitted_config, with_plan
from fpga_flow.fit.options import (
    PARALLEL_CONV_RESOURCE_CLASSES,
    STREAM_SAME_ARITHMETIC,
    Option,
    TunedLayer,
    attention_reuse_factors,
    holds_exactly,
    layer_choices,
    layer_plan,
    resource_reuse_limit,
    saturating_accumulator,
    stream_keeps_arithmetic,
    valid_reuse_factors,
)
from fpga_flow.fit.pricing import Space, budget_share, peak_share, price_options
from fpga_flow.fit.records import DoesNotFitError, FitError, FitPoint, FitRequest, FitResult, LayerChoice, LayerSetting, Objective
from fpga_flow.fit.search import NODE_LIMIT, PLANS_PRICED, PRICE_LIMIT, Goal, search
from fpga_flow.layers import LATENCY_ONLY_CLASSES, TUNED_CLASSES

__all__ = [
    "NODE_LIMIT", "PARALLEL_CONV_RESOURCE_CLASSES", "PLANS_PRICED", "PRICE_LIMIT",
    "STREAM_SAME_ARITHMETIC", "LATENCY_ONLY_CLASSES", "TUNED_CLASSES", "DoesNotFitError", "FitError", "FitPoint", "FitRequest", "FitResult",
    "Goal", "LayerChoice", "LayerSetting", "Objective", "Option", "Space", "TunedLayer", "attention_reuse_factors", "budget_share",
    "check_plan_kept", "choose", "fit_design", "fitted_config", "holds_exactly", "layer_choices", "layer_plan",
    "peak_share", "price_options", "recheck", "resource_reuse_limit", "saturating_accumulator",
    "search", "stream_keeps_arithmetic", "valid_reuse_factors", "with_plan",
]

"""Stage ``estimate``: resources and latency of an hls4ml design without vendor tools,
calibrated on real reports (``calibration.json``), each figure saying which report it
predicts (``csynth`` or ``vivado_synth``).

Pieces: :mod:`.design` (the neutral description), :mod:`.from_graph` and
:mod:`.from_pair` (its producers), :mod:`.counts`, :mod:`.products`, :mod:`.cost` and
:mod:`.timing` (the counted arithmetic and cycles), :mod:`.estimator` (pricing, with
per-layer plans), :mod:`.calibrate` and :mod:`.truth` (calibration on pairs), :mod:`.stage`
(the build's step, cached projects and ``fpga-flow estimate``).
"""

from fpga_flow.estimate.design import DESIGN_FILE, Design, LayerDesign, NumberType, Product, Table
from fpga_flow.estimate.estimator import Estimate, Figures, LayerEstimate, LayerPlan, price
from fpga_flow.estimate.stage import estimate, estimate_project, read_design, write_design

__all__ = [
    "DESIGN_FILE", "Design", "Estimate", "Figures", "LayerDesign", "LayerEstimate", "LayerPlan", "NumberType",
    "Product", "Table", "estimate", "estimate_project", "price", "read_design", "write_design",
]

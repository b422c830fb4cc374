"""The records a build writes, as data only: the pydantic models ``summary.json`` is made
of (:class:`fpga_flow.summary.RunSummary` gathers them) and the stage records beside it.

Each module holds one stage's records and imports nothing of fpga_flow but leaves
(``errors``, ``layers``, ``boards``, ``rundir``, and the board-side driver's dataclasses), so
reading a summary, the run history or the dashboard loads data, not the engines that fill
it (``tests/test_architecture.py`` checks both). The engines import their records from here.

* :mod:`~fpga_flow.records.cache`: ``CacheUse``, what a build took from the build cache;
* :mod:`~fpga_flow.records.deploy`: ``DeployRecord``, the bundle and its check on the board;
* :mod:`~fpga_flow.records.estimate`: ``Estimate``, the calibrated estimate's figures;
* :mod:`~fpga_flow.records.fit`: ``FitRequest``, ``FitResult``, the ``--fit`` search's record;
* :mod:`~fpga_flow.records.hls`: ``HLSSettings``, the HLS options a user chooses;
* :mod:`~fpga_flow.records.precision`: ``ClosureRecord``, ``OverflowRecord``, ``PrecisionChoice``;
* :mod:`~fpga_flow.records.rtl`: the RTL, Verilator, yosys and place-and-route records;
* :mod:`~fpga_flow.records.synth`: ``SynthesisResult``, the vendor synthesis stage.
"""

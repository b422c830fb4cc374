"""``fpga-flow deploy``: from a passed build to a bundle for the board.

* :mod:`fpga_flow.deploy.run_record`: the passed run deploy starts from (its summary, read
  through :func:`fpga_flow.summary.read_summary`, and the run files beside it).
* :mod:`fpga_flow.records.deploy` (data only, beside the summary's other sections): the
  ``deploy`` section of the run summary (the bundle, and check_on_board.py's results
  validated with their one definition).
* :mod:`fpga_flow.deploy.record`: writing that section into the run (summary, run page,
  run history): after a bundle is written, and for ``fpga-flow deploy --record``.
* :mod:`fpga_flow.deploy.project`: the accelerator target of a board, the AXI word types,
  and the hls4ml VivadoAccelerator project converted again from the run's model and
  configuration.
* :mod:`fpga_flow.deploy.standin`: the compiled AXI wrapper as a software stand-in for
  the overlay (a pynq look-alike), used to derive the expected words and by
  ``check_on_board.py --simulate``.
* :mod:`fpga_flow.deploy.bitstream`: the script that builds the bitstream and hardware
  handoff (or xclbin) with Vivado, and running it.
* :mod:`fpga_flow.deploy.bundle`: the steps that write a bundle.
* ``fpga_flow/deploy/board/``: the host driver and ``check_on_board.py`` shipped in it.
* ``fpga_flow/deploy/templates/``: the stand-in's C++ shim, the bitstream script and the
  bundle's README, as jinja2 templates.
"""

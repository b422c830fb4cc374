from fpga_flow.cli import app

app(prog_name="fpga-flow")

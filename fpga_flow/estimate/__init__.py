from fpga_flow.estimate.legacy_tmp import *  # noqa: F401,F403  (temporary during the rewrite)
from fpga_flow.estimate.legacy_tmp import estimate  # noqa: F401

"""The RTL stages' records, defined in :mod:`fpga_flow.records.rtl` (data only, so the
run summary reads them without loading the RTL engines); imported here for the stages."""

from fpga_flow.records.rtl import (  # noqa: F401 (re-exported for the RTL stages)
    BAUD,
    GATES_RECORD,
    OPEN_SYNTHESIS,
    PNR_RECORD,
    POST_ROUTE,
    REQUIRED_WORD_AGREEMENT,
    RTL_DIR,
    RTL_RECORD,
    RTL_SIM_RECORD,
    GateRecord,
    GatesSection,
    PnRRecord,
    PnRSection,
    RTLRecord,
    RTLSection,
    RTLSimRecord,
    RTLSimSection,
    SkippedStage,
    TopSimFigures,
    Use,
    read_record,
    write_record,
)

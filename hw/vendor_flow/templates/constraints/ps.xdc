#
# The programmable-logic clock comes from the processing system (@@clk), configured to the
# requested frequency in 02_block_design.tcl. The PS IP constrains that clock itself (its own XDC
# creates the clock on the PS output), so no create_clock is needed here; the PLL divider may round
# the frequency: 02_block_design.tcl prints what the PS delivers.
#
# Pins: the DDR and MIO pins are fixed by the PS (and the board preset when board files are
# installed). This design has no PL I/O. Placeholders for a board's PL pins, e.g. a status LED:
# set_property PACKAGE_PIN <pin> [get_ports led_done]
# set_property IOSTANDARD LVCMOS33 [get_ports led_done]

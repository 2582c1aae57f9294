# ---- no processor on this part: the accelerator's AXI4-Stream ports become top-level ports.
# The payload's own data interface (e.g. a SpaceWire codec or Serial RapidIO endpoint with an AXIS
# user side) attaches here in the integrator's design; this block design is the drop-in core.
@@external_ports
create_bd_port -dir I -type clk -freq_hz [expr {int($clock_mhz * 1000000)}] ap_clk
set_property CONFIG.ASSOCIATED_BUSIF {@@busif} [get_bd_ports ap_clk]
create_bd_port -dir I -type rst ap_rst_n
set_property CONFIG.POLARITY ACTIVE_LOW [get_bd_ports ap_rst_n]
set_property CONFIG.ASSOCIATED_RESET {ap_rst_n} [get_bd_ports ap_clk]
connect_bd_net [get_bd_ports ap_clk] [get_bd_pins accel/ap_clk]
connect_bd_net [get_bd_ports ap_rst_n] [get_bd_pins accel/ap_rst_n]

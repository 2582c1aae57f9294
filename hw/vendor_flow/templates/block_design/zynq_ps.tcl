# ---- processing system: PL clock @@clk at $clock_mhz MHz (the PL clock comes from the PS)
create_bd_cell -type ip -vlnv @@vlnv ps
if {$board_part ne ""} {
    apply_bd_automation -rule @@rule -config {@@{board_external}apply_board_preset "1"} [get_bd_cells ps]
} else {
    @@without_board
}
set_property -dict [list @@config] [get_bd_cells ps]
create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rst_pl
connect_bd_net [get_bd_pins ps/@@clk] [get_bd_pins rst_pl/slowest_sync_clk]
connect_bd_net [get_bd_pins ps/@@resetn] [get_bd_pins rst_pl/ext_reset_in]

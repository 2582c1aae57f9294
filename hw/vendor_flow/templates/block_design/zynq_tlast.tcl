# ---- @@port: TLAST after @@beats beats (one frame), then to the DMA's S2MM channel
add_files -norecurse [file join $tcldir rtl hsbinet_axis_tlast.v]
update_compile_order -fileset sources_1
create_bd_cell -type module -reference hsbinet_axis_tlast tlast_@@port
set_property -dict [list CONFIG.DATA_WIDTH {@@tdata_bits} CONFIG.BEATS {@@beats}] [get_bd_cells tlast_@@port]
connect_bd_intf_net [get_bd_intf_pins accel/@@port] [get_bd_intf_pins tlast_@@port/s_axis]

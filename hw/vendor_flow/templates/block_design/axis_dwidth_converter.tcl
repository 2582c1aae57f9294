# width conversion @@src_bytes -> @@dst_bytes bytes (integer ratio; the beats stay contiguous in memory, TKEEP/TLAST pass through)
create_bd_cell -type ip -vlnv xilinx.com:ip:axis_dwidth_converter @@conv
set_property -dict [list CONFIG.S_TDATA_NUM_BYTES {@@src_bytes} CONFIG.M_TDATA_NUM_BYTES {@@dst_bytes}] [get_bd_cells @@conv]
connect_bd_intf_net [get_bd_intf_pins @@src] [get_bd_intf_pins @@conv/S_AXIS]
connect_bd_intf_net [get_bd_intf_pins @@conv/M_AXIS] [get_bd_intf_pins @@dst]

# ---- control (PS master -> DMA registers) and memory (DMA masters -> PS HP0) interconnects
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_ic
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {@@n_ctrl}] [get_bd_cells ctrl_ic]
connect_bd_intf_net [get_bd_intf_pins ps/@@master] [get_bd_intf_pins ctrl_ic/S00_AXI]
@@ctrl_links
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_ic
set_property -dict [list CONFIG.NUM_SI {@@n_mem} CONFIG.NUM_MI {1}] [get_bd_cells mem_ic]
@@mem_links
connect_bd_intf_net [get_bd_intf_pins mem_ic/M00_AXI] [get_bd_intf_pins ps/@@slave]

# ---- interrupts (DMA done) to the PS
create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat irq_concat
set_property CONFIG.NUM_PORTS {@@n_irq} [get_bd_cells irq_concat]
@@irq_links
connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins ps/@@irq]

# ---- one clock domain: the PS PL clock; one synchronised reset
foreach pin {@@clk_pins} { connect_bd_net [get_bd_pins ps/@@clk] [get_bd_pins $pin] }
@@{converter_clocks}foreach pin {@@rst_pins} { connect_bd_net [get_bd_pins rst_pl/peripheral_aresetn] [get_bd_pins $pin] }

assign_bd_address
puts "hsbinet: PL clock requested $clock_mhz MHz, PS delivers [get_property @@actual_freq [get_bd_cells ps]] MHz"

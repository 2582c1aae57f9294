# ---- AXI DMA @@dma: MM2S -> @@mm2s_stream@@s2mm_note
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma @@dma
set_property -dict [list @@props] [get_bd_cells @@dma]

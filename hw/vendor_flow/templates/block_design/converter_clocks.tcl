foreach cell {@@cells} {
    connect_bd_net [get_bd_pins ps/@@clk] [get_bd_pins $cell/aclk]
    connect_bd_net [get_bd_pins rst_pl/peripheral_aresetn] [get_bd_pins $cell/aresetn]
}

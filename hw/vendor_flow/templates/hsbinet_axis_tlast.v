// hsbinet_axis_tlast.v -- pass-through AXI4-Stream stage that asserts TLAST on the last beat of a frame.
// The hls4ml output stream has no TLAST; the AXI DMA S2MM channel ends a transfer on TLAST.
// BEATS = output pixels per frame (one beat = one pixel, all channels).
`timescale 1ns / 1ps
module hsbinet_axis_tlast #(
    parameter integer DATA_WIDTH = 128,
    parameter integer BEATS = 256
) (
    (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 aclk CLK" *)
    (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axis:m_axis, ASSOCIATED_RESET aresetn" *)
    input  wire                  aclk,
    (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 aresetn RST" *)
    (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
    input  wire                  aresetn,
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast
);
    reg [31:0] count;
    assign m_axis_tdata  = s_axis_tdata;
    assign m_axis_tvalid = s_axis_tvalid;
    assign s_axis_tready = m_axis_tready;
    assign m_axis_tlast  = (count == BEATS - 1);
    always @(posedge aclk) begin
        if (!aresetn)
            count <= 0;
        else if (s_axis_tvalid && m_axis_tready)
            count <= (count == BEATS - 1) ? 0 : count + 1;
    end
endmodule

# 01_hls_synth.tcl -- Vitis HLS: C synthesis of the verified AXI4-Stream design, export as a Vivado IP.
#   Vitis HLS 2023.2:        vitis_hls -f 01_hls_synth.tcl
#   Vitis 2024.1 / 2024.2:   vitis-run --mode hls --tcl 01_hls_synth.tcl
# Reports: ${top}_prj/${hls_solution}/syn/report/csynth.xml (+ one <module>_csynth.xml per layer).
# IP:      ${top}_prj/${hls_solution}/impl/ip (VLNV ${ip_vendor}:${ip_library}:${top}:${ip_version}).
# Top: the AXI4-Stream adapter ${top}() (hw/hls/axis.py: width conversion to @@tdata_bits-bit TDATA,
# band padding, TLAST per @@tlast) around hls4ml's ${core}(): exactly the design `hsbinet csim`
# verified. Based on hls4ml's build_prj.tcl (same flags and config_* settings), with the part and
# clock of this build and a free-running (ap_ctrl_none) block protocol.
set tcldir [file dirname [file normalize [info script]]]
cd $tcldir
source [file join $tcldir project.tcl]

open_project -reset ${top}_prj
set_top $top
# Design sources: the hls4ml core and the adapter. -D@@axi_sdata_macro makes the adapter's header use
# Vitis' ap_axiu<@@tdata_bits,0,0,0> (TDATA, TKEEP, TSTRB, TLAST) or fail to compile; never the
# plain struct it falls back to for g++ C simulation. firmware/${top}_bridge.cpp is the C-simulation
# entry of `hsbinet csim` and is not synthesised.
add_files hls_src/firmware/${core}.cpp -cflags "-std=c++0x"
add_files hls_src/firmware/${top}.cpp -cflags "-std=c++0x -D@@axi_sdata_macro"
# hls4ml's testbench (it drives ${core}() with tb_data/; used by opt(csim))
add_files -tb hls_src/${core}_test.cpp -cflags "-std=c++0x"
add_files -tb hls_src/firmware/weights
if {[file isdirectory hls_src/tb_data]} { add_files -tb hls_src/tb_data }

open_solution -reset $hls_solution -flow_target vivado
set_part $part
create_clock -period $clock_period -name default
set_clock_uncertainty $clock_uncertainty default
config_compile -name_max_length 80
config_schedule -enable_dsp_full_reg=false
catch {config_array_partition -maximum_size 4096}

# The adapter's three ports as AXI4-Stream (restates its "#pragma HLS INTERFACE axis"), registered
# both ways. Block protocol, decided: ap_ctrl_none. A payload wants a free-running streaming IP: the
# dataflow design starts on the first beat, processes frame after frame and is paced only by
# TVALID/TREADY (the DMAs or the payload's data interface), so nothing has to write a start
# register or wait for ap_done. The end of a frame is seen on the output's TLAST and beat count.
@@interface_directives
set_directive_interface -mode ap_ctrl_none $top

if {$opt(csim)} { csim_design }
if {$opt(synth)} { csynth_design }
if {$opt(cosim)} {
    # C/RTL co-simulation runs the testbench against the RTL of the top; hls4ml's testbench calls
    # ${core}(), not ${top}(), so it cannot co-simulate this top (`hsbinet csim` verifies ${top}).
    set tb [open hls_src/${core}_test.cpp]
    set tb_text [read $tb]
    close $tb
    if {![regexp "${top}\\s*\\(" $tb_text]} {
        error "hsbinet: opt(cosim) needs a testbench that calls ${top}(); hls_src/${core}_test.cpp calls ${core}()"
    }
    cosim_design -trace_level none
}
if {$opt(export)} {
    export_design -format ip_catalog -vendor $ip_vendor -library $ip_library -ipname $top \
        -version $ip_version -description "HS-BiNet binary pan-sharpening accelerator (AXI4-Stream, hls4ml io_stream core)"
}
exit

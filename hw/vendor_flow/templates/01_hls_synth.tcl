# 01_hls_synth.tcl -- Vitis HLS: C synthesis of the hls4ml io_stream design, export as a Vivado IP.
#   Vitis HLS 2023.2:        vitis_hls -f 01_hls_synth.tcl
#   Vitis 2024.1 / 2024.2:   vitis-run --mode hls --tcl 01_hls_synth.tcl
# Reports: ${top}_prj/${hls_solution}/syn/report/csynth.xml (+ one <module>_csynth.xml per layer).
# IP:      ${top}_prj/${hls_solution}/impl/ip (VLNV ${ip_vendor}:${ip_library}:${top}:${ip_version}).
# Based on hls4ml's build_prj.tcl (same sources, flags and config_* settings), with the part and
# clock of this build, AXI4-Stream ports and a free-running (ap_ctrl_none) block protocol.
set tcldir [file dirname [file normalize [info script]]]
cd $tcldir
source [file join $tcldir project.tcl]

open_project -reset ${top}_prj
set_top $top
add_files hls_src/firmware/${top}.cpp -cflags "-std=c++0x"
add_files -tb hls_src/${top}_test.cpp -cflags "-std=c++0x"
add_files -tb hls_src/firmware/weights
if {[file isdirectory hls_src/tb_data]} { add_files -tb hls_src/tb_data }

open_solution -reset $hls_solution -flow_target vivado
set_part $part
create_clock -period $clock_period -name default
set_clock_uncertainty $clock_uncertainty default
config_compile -name_max_length 80
config_schedule -enable_dsp_full_reg=false
catch {config_array_partition -maximum_size 4096}

# Stream ports as AXI4-Stream (restates hls4ml's "#pragma HLS INTERFACE axis"), registered both
# ways; no ap_start/ap_done: the dataflow design runs whenever data arrives (the DMAs or the
# payload interface pace it), so nothing has to drive a control register.
@@interface_directives
set_directive_interface -mode ap_ctrl_none $top

if {$opt(csim)} { csim_design }
if {$opt(synth)} { csynth_design }
if {$opt(cosim)} { cosim_design -trace_level none }
if {$opt(export)} {
    export_design -format ip_catalog -vendor $ip_vendor -library $ip_library -ipname $top \
        -version $ip_version -description "HS-BiNet binary pan-sharpening accelerator (hls4ml io_stream)"
}
exit

# 02_block_design.tcl -- Vivado: project, block design around the HLS IP, HDL wrapper.
#   vivado -mode batch -source 02_block_design.tcl      (after 01_hls_synth.tcl exported the IP)
set tcldir [file dirname [file normalize [info script]]]
cd $tcldir
source [file join $tcldir project.tcl]

create_project -force $bd_project vivado -part $part
if {$board_part ne ""} {
    if {[llength [get_board_parts -quiet $board_part]]} {
        set_property board_part $board_part [current_project]
    } else {
        puts "WARNING: board files for $board_part are not installed; building for the bare part $part"
        set board_part ""
    }
}
set_property ip_repo_paths [file join $tcldir ${top}_prj $hls_solution impl ip] [current_project]
update_ip_catalog
set hls_vlnv ${ip_vendor}:${ip_library}:${top}:${ip_version}
if {![llength [get_ipdefs -quiet $hls_vlnv]]} {
    error "hsbinet: HLS IP $hls_vlnv not found; run 01_hls_synth.tcl first"
}
add_files -fileset constrs_1 -norecurse [file join $tcldir constraints ${top}_${part_key}.xdc]

create_bd_design $bd_name
create_bd_cell -type ip -vlnv $hls_vlnv accel

# The generator sized the DMAs from design.json (axis.tdata_bits) and relies on the TLAST the HLS IP
# generates itself (axis.tlast); stop if Vitis HLS packaged a port differently.
proc check_port {pin expect} {
    set got [get_property CONFIG.TDATA_NUM_BYTES [get_bd_intf_pins $pin]]
    if {$got != $expect} {
        error "hsbinet: $pin has TDATA_NUM_BYTES=$got, expected $expect; regenerate with `hsbinet build`"
    }
    if {[get_property CONFIG.HAS_TLAST [get_bd_intf_pins $pin]] != 1} {
        error "hsbinet: $pin has no TLAST; the HLS top must be the AXI4-Stream adapter $::top (ap_axiu ports)"
    }
}
@@port_checks

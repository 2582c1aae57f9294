# 03_impl_bitstream.tcl -- Vivado: synthesis, implementation, reports and bitstream.
#   vivado -mode batch -source 03_impl_bitstream.tcl      (after 02_block_design.tcl)
# Reports (read by `hsbinet report` through hw/vendor_flow/reports.py):
#   reports/synth_utilization.rpt, synth_utilization_hier.rpt, synth_timing_summary.rpt
#   reports/impl_utilization.rpt, impl_utilization_hier.rpt, impl_timing_summary.rpt
# Bitstream: output/${top}_${part_key}.bit
set tcldir [file dirname [file normalize [info script]]]
cd $tcldir
source [file join $tcldir project.tcl]
file mkdir reports output
open_project [file join vivado ${bd_project}.xpr]

proc run_ok {run} {
    if {[get_property PROGRESS [get_runs $run]] ne "100%" || [string match "*ERROR*" [get_property STATUS [get_runs $run]]]} {
        error "hsbinet: $run failed: [get_property STATUS [get_runs $run]] (see [get_property DIRECTORY [get_runs $run]])"
    }
}

reset_run synth_1
launch_runs synth_1 -jobs $jobs
wait_on_run synth_1
run_ok synth_1
open_run synth_1 -name synth_1
report_utilization -file reports/synth_utilization.rpt
report_utilization -hierarchical -file reports/synth_utilization_hier.rpt
report_timing_summary -max_paths 10 -file reports/synth_timing_summary.rpt
close_design

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
run_ok impl_1
open_run impl_1
report_utilization -file reports/impl_utilization.rpt
report_utilization -hierarchical -file reports/impl_utilization_hier.rpt
report_timing_summary -max_paths 10 -report_unconstrained -file reports/impl_timing_summary.rpt
set wns [get_property SLACK [get_timing_paths -delay_type max -max_paths 1]]
if {$wns ne "" && $wns < 0} {
    puts "WARNING: hsbinet: timing NOT met (WNS $wns ns at $clock_mhz MHz); see reports/impl_timing_summary.rpt"
}
set bits [glob -nocomplain [file join [get_property DIRECTORY [get_runs impl_1]] *.bit]]
if {![llength $bits]} { error "hsbinet: impl_1 wrote no bitstream" }
file copy -force [lindex $bits 0] [file join output ${top}_${part_key}.bit]
puts "hsbinet: bitstream output/${top}_${part_key}.bit"
@@{hardware_platform}close_project
exit

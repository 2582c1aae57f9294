validate_bd_design
save_bd_design
set wrapper [make_wrapper -files [get_files ${bd_name}.bd] -top]
add_files -norecurse $wrapper
set_property top ${bd_name}_wrapper [current_fileset]
update_compile_order -fileset sources_1
puts "hsbinet: block design ${bd_name} written; next: vivado -mode batch -source 03_impl_bitstream.tcl"
close_project
exit

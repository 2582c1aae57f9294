write_hw_platform -fixed -include_bit -force -file [file join output ${top}_${part_key}.xsa]
puts "hsbinet: hardware platform output/${top}_${part_key}.xsa (for Vitis / PYNQ software)"

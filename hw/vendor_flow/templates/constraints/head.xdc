# @@{top}_@@{part_key}.xdc -- constraints for the HS-BiNet accelerator on @@vendor_part
# Clock: @@clock_mhz MHz = @@period ns (hsbinet build --clock).

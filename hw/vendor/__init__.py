"""AMD vendor flow (Vitis HLS + Vivado) around an hls4ml io_stream project.

* :mod:`hw.vendor.hls_project`: find and read the hls4ml project (ports, widths, content hash)
* :mod:`hw.vendor.project`: :func:`~hw.vendor.project.write_vendor_project` (the ``vendor/`` folder);
  its texts come from ``templates/`` via :mod:`hw.vendor.scripts`, :mod:`hw.vendor.block_design`
  and :mod:`hw.vendor.templates`
* :mod:`hw.vendor.tools`: find and run ``vitis_hls`` / ``vivado`` on that folder
* :mod:`hw.vendor.reports`: :func:`~hw.vendor.reports.find_vendor_reports` over the parsers in
  :mod:`hw.vendor.hls_reports` and :mod:`hw.vendor.vivado_reports`
"""

"""AMD vendor flow (Vitis HLS + Vivado) around an hls4ml io_stream project.

* :mod:`hw.vendor_flow.hls_project`: find and read the lowered design (hls4ml project, design.json, the
  AXI4-Stream adapter top ``<core>_axis`` and its ports, content hash)
* :mod:`hw.vendor_flow.project`: :func:`~hw.vendor_flow.project.write_vendor_project` (the ``vendor/`` folder);
  its texts come from ``templates/`` via :mod:`hw.vendor_flow.scripts`, :mod:`hw.vendor_flow.block_design`
  and :mod:`hw.vendor_flow.templates`
* :mod:`hw.vendor_flow.tools`: find and run ``vitis_hls`` / ``vivado`` on that folder
* :mod:`hw.vendor_flow.reports`: :func:`~hw.vendor_flow.reports.find_vendor_reports` over the parsers in
  :mod:`hw.vendor_flow.hls_reports` and :mod:`hw.vendor_flow.vivado_reports`
"""

"""The template writer of the vendor project: strict about placeholders, never emits '@@name'."""

import pytest

from hw.vendor_flow import templates
from hw.vendor_flow.templates import TEMPLATE_DIR, TemplateError, render


def test_unfilled_placeholder_is_an_error():
    with pytest.raises(TemplateError, match='no value for .*@@hls_solution'):
        render('run_all.sh', top='hsbinet', bd_project='hsbinet_bd', tool_version='2023.2')


def test_value_without_placeholder_is_an_error():
    with pytest.raises(TemplateError, match='has no placeholder for clock_mhz'):
        render('03_impl_bitstream.tcl', hardware_platform='', clock_mhz='200')


def test_placeholders_are_filled_and_tcl_dollars_kept():
    text = render('run_all.sh', top='net', hls_solution='sol', bd_project='bd', tool_version='2023.2')
    assert 'net_prj/sol/' in text and 'vivado/bd.xpr' in text and '"${HLS[@]}"' in text and '@@' not in text


@pytest.fixture
def template_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(templates, 'TEMPLATE_DIR', tmp_path)
    templates._load.cache_clear()
    yield tmp_path
    templates._load.cache_clear()


def test_malformed_placeholder_and_literal_delimiter(template_dir):
    (template_dir / 'bad.tcl').write_text('set x @@ 1\n')
    with pytest.raises(TemplateError, match='not followed by a placeholder name'):
        render('bad.tcl')
    (template_dir / 'ok.tcl').write_text('puts "@@@@{a}" ;# @@{a}_x @@a\n')
    assert render('ok.tcl', a='v') == 'puts "@@{a}" ;# v_x v\n'


def test_every_template_parses():
    names = [p.relative_to(TEMPLATE_DIR).as_posix() for p in TEMPLATE_DIR.rglob('*') if p.is_file()]
    assert 'project.tcl' in names and 'block_design/head.tcl' in names
    for name in names:
        assert templates._load(name).is_valid(), name

from rnnbench import report


def test_html_page_is_self_contained_and_escapes_plugin_strings(results):
    report.write(results)
    page = (results / "index.html").read_text()
    assert "<svg" in page and "adding-50: mse against parameters" in page
    assert "sum | two &lt;b&gt;marked&lt;/b&gt;" in page and "<b>marked</b>" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in page
    md = (results / "quick" / "adding-50.md").read_text()
    assert "![adding-50: mse against parameters](charts/adding-50-params.png)" in md
    assert (results / "quick" / "charts" / "adding-50-params.png").stat().st_size > 1000


def test_the_page_marks_baselines_and_models_that_do_not_beat_them(results):
    page = report.write(results)[0]["index.html"]
    assert '<tr class="baseline"><td>–</td><td class="l">predict-1.0 (baseline)</td><td>0.167</td>' in page
    assert '<td><span class="below">does not beat (p ' in page
    assert "<a href='#quick-adding-50'>adding-50</a>" in page

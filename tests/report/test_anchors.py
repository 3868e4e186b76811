"""The anchors page (``anchors.md`` and a section of ``index.html``): every task's
published results beside ours, under the entry's own profile, else the quick profile,
else not run here, with why."""

from _records import rec

from rnnbench import Published, report, store

DIFFERS = "their split <b>differs</b>"
PUBLISHED = {
    # results under its own profile: compared, and ours is worse
    "adding-50": [
        Published("Doe (2020)", "LSTM", "mse", 0.012, DIFFERS, ours="lstm", profile="full", setup="1M sums").to_dict()
    ],
    # no results under its profile: the quick profile's stand in
    "adding-200": [Published("Roe (2021)", "GRU", "mse", 0.3, "second-hand", ours="gru", profile="full").to_dict()],
    # a task without any results, and an entry that names no model of ours
    "copy-memory": [
        Published("Poe (2022)", "uRNN", "cross_entropy", 0.01, "x", ours="lstm", profile="full-paper").to_dict(),
        Published("Poe (2022)", "oRNN", "cross_entropy", 0.02, "y", verified=False).to_dict(),
    ],
}


def at(profile, **kw):
    return {**rec(**kw), "profile": profile}


def write(tmp_path, published=PUBLISHED):
    for r in (
        at("full", model="lstm", seed=0, value=0.02),
        at("full", model="lstm", seed=1, value=0.04),
        at("quick", model="lstm", seed=0, value=0.05),
        at("quick", model="gru", seed=0, value=0.1, task="adding-200"),
        at("quick", model="gru", seed=1, value=0.2, task="adding-200"),
        at("quick", model="bi-gru", seed=0, value=None, task="adding-200", status="n/a", reason="bi-gru is not causal"),
    ):
        store.write_record(tmp_path, r)
    files, _ = report.write(tmp_path, published)
    return files


def rows(md):
    return [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| task ")]


def test_each_entry_shows_ours_under_its_profile_else_quick_else_why_not(tmp_path):
    md = write(tmp_path)["anchors.md"]
    assert "not like-for-like" in md
    assert rows(md) == [
        "| [adding-200](quick/adding-200.md) | Roe (2021) | – | GRU | mse | 0.3 | gru: 0.15 ± 0.071 (2 seeds, quick "
        "profile, not the published recipe) | not comparable (another recipe) | second-hand |",
        "| [adding-50](full/adding-50.md) | Doe (2020) | 1M sums | LSTM | mse | 0.012 | lstm: 0.03 ± 0.014 (2 seeds, "
        "full profile) | worse | their split &lt;b>differs&lt;/b> |",
        "| copy-memory | Poe (2022) | – | uRNN | cross_entropy | 0.01 | not run here: no full-paper results (a "
        "full-scale recipe: hours of training, on hub data where a task reads it); no quick results of this task "
        "| – | x |",
        "| copy-memory | Poe (2022) | – | oRNN | cross_entropy | 0.02 (not verified) | – (no model of ours named) | – "
        "| y |",
    ]


def test_a_model_that_did_not_run_under_quick_says_why(tmp_path):
    published = {"adding-200": [Published("Roe (2021)", "BiGRU", "mse", 0.3, "x", ours="bi-gru").to_dict()]}
    md = write(tmp_path, published)["anchors.md"]
    assert "not run here: no quick result of bi-gru: bi-gru is not causal" in md


def test_ours_better_than_published_says_so(tmp_path):
    published = {"adding-50": [Published("Doe (2020)", "LSTM", "mse", 0.5, "x", ours="lstm", profile="full").to_dict()]}
    assert "full profile) | better |" in write(tmp_path, published)["anchors.md"]


def test_the_index_links_the_page_and_the_html_has_the_section(tmp_path):
    files = write(tmp_path)
    assert "[anchors.md](anchors.md)" in files["README.md"]
    html = files["index.html"]
    assert '<section id="anchors">' in html and "<a href='#full-adding-50'>adding-50</a>" in html
    assert "their split &lt;b&gt;differs&lt;/b&gt;" in html and "<b>differs" not in html
    assert report.check(tmp_path, PUBLISHED) == ([], [])
    assert "anchors.md" in report.check(tmp_path, {})[0]


def test_without_published_results_the_page_says_so_and_the_html_has_no_section(tmp_path):
    files = write(tmp_path, {})
    assert "No registered task declares a published result." in files["anchors.md"]
    assert 'id="anchors"' not in files["index.html"]

"""The SWORD reader lm-word and translation share: OSIS markup to text, mod2imp's export
to verses, where an installed module's conf and data are, one-line errors."""

import pytest

from rnnbench import Requirement
from rnnbench.data import DataUnavailable
from rnnbench_plugins import _sword
from rnnbench_plugins._sword import Verse, clean_osis, parse_imp

# --- markup ---------------------------------------------------------------------------------


def test_footnotes_go_before_tags_so_words_do_not_run_together():
    markup = (
        '<w lemma="strong:H0430">God</w><note placement="foot"><reference type="annotateRef">'
        "1:1 </reference>The Hebrew word rendered “God” is “אֱלֹהִ֑ים”.</note><w>created</w> "
        'the &amp; earth.<div eID="gen25" type="x-p"/>'
    )
    assert clean_osis(markup) == "God created the & earth."


def test_notes_headings_usfm_markers_and_paragraph_marks_dropped():
    markup = (
        '<title type="main">Chapter heading</title>In the <w lemma="strong:H7225">beginning</w>'
        '<note placement="foot"><reference>1.1</reference>Heb. at first</note> God \\nd <w>LORD</w>'
        " &amp; ¶ heaven."
    )
    assert clean_osis(markup) == "In the beginning God LORD & heaven."


def test_editorial_headings_and_speakers_dropped_canonical_psalm_title_kept():
    markup = (
        '<title level="2" type="main">The Fall</title><speaker>Beloved</speaker> '
        '<title canonical="true" type="psalm">A Psalm by David.</title> <l level="1"/>Yahweh, hear!'
    )
    assert clean_osis(markup) == "A Psalm by David. Yahweh, hear!"
    psalm = '<title canonical="true" type="psalm">A Psalm of David.</title> LORD, how'
    assert clean_osis(psalm) == "A Psalm of David. LORD, how"


# --- mod2imp's export -------------------------------------------------------------------------


def test_parse_imp_keeps_verses_and_skips_headings():
    imp = "\n".join(
        [
            "$$$[ Module Heading ]",
            "",
            "$$$Genesis 0:0",
            "<title>Preface</title> words",
            "$$$Genesis 1:0",
            '<chapter n="1"/>',
            "$$$Genesis 1:1",
            "In the beginning,",
            "God created.",
            "$$$Susanna 1:1",
            "",
            "$$$I Samuel 2:10",
            "<w>Hannah</w> prayed.",
        ]
    )
    assert parse_imp(imp) == [
        Verse("Genesis 1:1", "Genesis", 1, 1, "In the beginning,\nGod created."),
        Verse("Susanna 1:1", "Susanna", 1, 1, ""),
        Verse("I Samuel 2:10", "I Samuel", 2, 10, "<w>Hannah</w> prayed."),
    ]


def test_missing_mod2imp_or_module_is_one_line(monkeypatch):
    for module in ("noSuchModule", "engNOPE"):
        with pytest.raises(DataUnavailable, match=rf"^SWORD module {module} is not installed, and no package"):
            _sword.export_module(module)
    monkeypatch.setattr(_sword, "MOD2IMP", Requirement.binary("mod2imp-absent", apt="no-such-package-rnnbench"))
    for module in ("engWEB2015eb", "engKJV2006eb"):
        with pytest.raises(DataUnavailable) as err:
            _sword.read_verses(module)
        assert str(err.value) == "mod2imp-absent is not installed: sudo apt-get install no-such-package-rnnbench"


# --- an installed module ----------------------------------------------------------------------


def test_a_module_is_found_by_its_section_under_sword_path(monkeypatch, tmp_path):
    # SWORD's installers lower-case the conf's name; the section keeps the module's case
    (tmp_path / "mods.d").mkdir()
    conf = tmp_path / "mods.d" / "engtest2020eb.conf"
    conf.write_text("[engTest2020eb]\nDataPath=./modules/texts/ztext/engtest2020eb/\nVersion=1.5\n")
    data = tmp_path / "modules" / "texts" / "ztext" / "engtest2020eb"
    data.mkdir(parents=True)
    for name in ("ot.bzz", "nt.bzz"):
        (data / name).write_bytes(b"x")
    monkeypatch.setenv("SWORD_PATH", str(tmp_path))
    assert _sword.module_version("engTest2020eb") == "1.5"
    assert _sword.module_files("engTest2020eb") == [conf, data / "nt.bzz", data / "ot.bzz"]
    assert _sword.module_version("engAbsent2020eb") is None and _sword.module_files("engAbsent2020eb") == []
    conf.write_text("[engTest2020eb]\nDataPath=./nowhere/\n")
    assert _sword.module_version("engTest2020eb") == "unversioned"
    assert _sword.module_files("engTest2020eb") == []  # a conf without its data is not the module


def test_requirement_names_debian_first_then_the_other_roots():
    req = _sword.module_requirement("engKJV2006eb")
    assert req.paths == (
        "/usr/share/sword/mods.d/engKJV2006eb.conf",
        "$SWORD_PATH/mods.d/engKJV2006eb.conf",
        "$SWORD_PATH/mods.d/engkjv2006eb.conf",
        "/usr/local/share/sword/mods.d/engkjv2006eb.conf",
        "~/.sword/mods.d/engkjv2006eb.conf",
    )
    assert req.apt == "sword-text-kjv"


def test_doctor_finds_a_module_where_the_reader_does(tmp_path, monkeypatch):
    """A module only under $SWORD_PATH: the requirement locates it as the reader would."""
    import dataclasses

    from rnnbench_plugins._sword import module_requirement

    req = module_requirement("engWEB2015eb")
    elsewhere = dataclasses.replace(req, paths=req.paths[1:])  # as if /usr/share/sword had none
    (tmp_path / "mods.d").mkdir()
    conf = tmp_path / "mods.d" / "engweb2015eb.conf"
    conf.write_text("[engWEB2015eb]\n")
    monkeypatch.delenv("SWORD_PATH", raising=False)
    assert elsewhere.locate() is None or not elsewhere.locate().startswith(str(tmp_path))
    monkeypatch.setenv("SWORD_PATH", str(tmp_path))
    assert elsewhere.locate() == str(conf)

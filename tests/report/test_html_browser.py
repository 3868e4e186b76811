"""Open index.html in a real headless browser (Debian's chromium): tables and charts render
and the console stays clean."""

import shutil
import subprocess

import pytest
from _records import sample_records

from rnnbench import report, store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed: apt-get install chromium (make test does)")
def test_index_html_renders_in_chromium_without_console_errors(tmp_path):
    for r in sample_records():
        store.write_record(tmp_path, r)
    report.write(tmp_path)
    page = (tmp_path / "index.html").as_uri()
    profile = tmp_path / "chrome-profile"
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.count("<table") >= 3 and html.count("<svg") >= 2
    assert "adding-50: mse against parameters" in html
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    shot = tmp_path / "page.png"
    subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,1600", page],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 10_000

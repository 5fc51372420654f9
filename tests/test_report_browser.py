"""Open report.html in headless Chromium: it renders offline, and the #filter= hash filters the table.

CI: ``apt-get update && apt-get install -y chromium``. Skipped when chromium is absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from aligntax.audit import audit_stream
from aligntax.record import Conversation, Turn

pytestmark = pytest.mark.browser

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def _chromium(tmp_path, url: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,2000", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    convs = [Conversation(f"c{i}", "demo.jsonl", i, [Turn("user", f"Tell me fact {i}."),
                                                     Turn("assistant", f"Fact {i}: water boils at 100 C at sea level.")])
             for i in range(30)]
    convs[3].turns[1].content = "I am ChatGPT, a large language model trained by OpenAI. <script>document.title='x'</script>"
    convs[8].turns[0].content = "Pretend you are a pirate captain."
    convs[9].turns[1].content = "- one\n- two\n- three"
    out = tmp_path_factory.mktemp("audit")
    res = audit_stream(convs, out, detectors="identity_claim,roleplay,structure,too_short", sample=4)
    return res.report


def _visible_rows(dom: str) -> list[str]:
    body = dom.split('<table id="rows">', 1)[1]
    return [m.group(1) for m in re.finditer(r'<tr data-tags="([^"]*)"[^>]*?(?<!hidden="")>', body)
            if "hidden" not in m.group(0)]


def test_report_renders_and_hash_filter_applies(report, tmp_path):
    dom = _chromium(tmp_path, report.as_uri() + "#filter=roleplay", "--dump-dom").stdout
    assert "<svg" in dom and 'id="rows"' in dom
    assert dom.count("<tr data-tags=") == 30
    assert _visible_rows(dom) == ["roleplay"]
    assert re.search(r'<span id="shown">1</span>', dom)
    assert 'data-filter="roleplay"' in dom
    assert "document.title='x'" in dom and "<title>aligntax audit" in dom  # the injected script stayed text

    unfiltered = _chromium(tmp_path, report.as_uri(), "--dump-dom").stdout
    assert len(_visible_rows(unfiltered)) == 30 and '<span id="shown">30</span>' in unfiltered

    text = _chromium(tmp_path, report.as_uri() + "#q=ChatGPT", "--dump-dom").stdout
    assert _visible_rows(text) == ["identity_claim"]


def test_report_screenshot(report, tmp_path):
    shot = tmp_path / "report.png"
    _chromium(tmp_path, report.as_uri() + "#filter=identity_claim", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 20_000

"""The offline sample news site: the server over real loopback HTTP, and the honesty of expected.json."""

from __future__ import annotations

import gzip
import json
import re
import signal
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import lxml.html
import pytest
import trafilatura
import yaml

from flows.sample_site import SITE_DIR, SampleSite, load_expected, load_manifest, sources_yaml

EXPECTED = load_expected()
MANIFEST = load_manifest()
ARTICLES = {p: r for p, r in EXPECTED.items() if r["kind"] == "article"}
SEED_ARTICLES = {
    p: r for p, r in ARTICLES.items() if r["story"] == "deepfake-summons" and p.split("/")[1] != "wire"
}
OUTLETS = ["technode", "shine", "pandaily", "republicworld", "scmp", "wire"]
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"

# Exactly as in the Shanghai Daily seed (GBK-decoded UTF-8, with a private-use U+E044).
SHINE_SEED = "/shine/news/nation/2103194125/"
SHINE_TITLE_MOJIBAKE = "Regulators hold talks with tech firms over \u9225\u6999eepfake\u9225"
SHINE_COPYRIGHT = "Copyright \u6f0f 1999- Shanghai Daily. All rights reserved.Preferably viewed with Internet Explorer 8 or newer browsers."
SHINE_BEIAN = "\u5a0c\ue044\u53d5\u7f03\u621d\u7568\u6fb6 31010602000204\u9359"

GBK_PAGE = "/shine/cn/2103174512.html"
GB2312_TRAP = "/wire/zh/2021/03/20/huinonggo-livestream-farm-plan.html"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """One request without following redirects: (status, headers, body), also for 3xx/4xx/5xx."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def norm(text: str) -> str:
    return " ".join(text.split())


def page_text(path: str, body: bytes) -> str:
    enc = "gbk" if EXPECTED[path]["encoding_trap"] == "gbk-declared" else "utf-8"
    return body.decode(enc)


def visible_text(markup: str) -> str:
    doc = lxml.html.document_fromstring(markup)
    for bad in doc.xpath("//script|//style"):
        bad.drop_tree()
    return norm(doc.body.text_content())


def article_body(markup: str) -> str:
    doc = lxml.html.document_fromstring(markup)
    return norm(doc.xpath("string(//div[contains(concat(' ', @class, ' '), ' article-body ')])"))


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite(port=0) as s:
        yield s


@pytest.fixture(scope="module")
def pages(site: SampleSite) -> dict[str, str]:
    """Every expected page, fetched once and decoded."""
    out = {}
    for path in EXPECTED:
        status, _, body = fetch(site.url(path))
        assert status == 200, path
        out[path] = page_text(path, body)
    return out


# ---------------------------------------------------------------- serving
def test_base_url_shape(site: SampleSite) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", site.base_url)
    assert site.url("/robots.txt") == site.base_url + "/robots.txt"


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_every_expected_path_is_served(site: SampleSite, path: str) -> None:
    status, headers, body = fetch(site.url(path))
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert int(headers["Content-Length"]) == len(body)
    assert b"{{BASE_URL}}" not in body
    assert site.base_url.encode() in body


def test_expected_covers_every_html_file() -> None:
    served = set()
    for f in SITE_DIR.rglob("*.html"):
        rel = "/" + f.relative_to(SITE_DIR).as_posix()
        if rel.endswith("/index.html"):
            rel = rel[: -len("index.html")]
        served.add(rel)
    mapped = {p if p.endswith(("/", ".html")) else p + ".html" for p in EXPECTED}
    assert served == mapped


def test_site_is_modest_and_has_no_hardcoded_host() -> None:
    files = [f for f in SITE_DIR.rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) < 1_500_000
    for f in files:
        data = f.read_bytes()
        assert b"127.0.0.1" not in data and b"localhost" not in data, f


def test_robots_txt(site: SampleSite) -> None:
    status, headers, body = fetch(site.url("/robots.txt"))
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    assert "User-agent: *" in text
    assert "Disallow: /private/" in text.splitlines()
    assert f"Sitemap: {site.base_url}/sitemap_index.xml" in text.splitlines()
    assert "{{BASE_URL}}" not in text


def test_xml_content_types(site: SampleSite) -> None:
    assert fetch(site.url("/sitemap_index.xml"))[1]["Content-Type"] == "application/xml"
    assert fetch(site.url("/technode/feed.xml"))[1]["Content-Type"].startswith("application/rss+xml")
    assert fetch(site.url("/pandaily/sitemap.xml.gz"))[1]["Content-Type"] == "application/gzip"


def test_gz_sitemap_decompresses_to_valid_sitemap(site: SampleSite) -> None:
    status, headers, body = fetch(site.url("/pandaily/sitemap.xml.gz"))
    assert status == 200 and headers["Content-Type"] == "application/gzip"
    assert body[:2] == b"\x1f\x8b"
    xml = gzip.decompress(body)
    assert b"{{BASE_URL}}" not in xml
    root = ET.fromstring(xml)
    assert root.tag == SM + "urlset"
    locs = [u.findtext(SM + "loc") for u in root.iter(SM + "url")]
    assert locs and all(loc and loc.startswith(site.base_url + "/pandaily/") for loc in locs)
    # byte-stable: same ETag twice
    assert fetch(site.url("/pandaily/sitemap.xml.gz"))[1]["ETag"] == headers["ETag"]


def _sitemap_urls(site: SampleSite, url: str) -> list[tuple[str, str | None]]:
    status, _, body = fetch(url)
    assert status == 200, url
    if url.endswith(".gz"):
        body = gzip.decompress(body)
    root = ET.fromstring(body)
    if root.tag == SM + "sitemapindex":
        out = []
        for sm in root.iter(SM + "sitemap"):
            out += _sitemap_urls(site, sm.findtext(SM + "loc") or "")
        return out
    assert root.tag == SM + "urlset", url
    return [(u.findtext(SM + "loc") or "", u.findtext(SM + "lastmod")) for u in root.iter(SM + "url")]


def _classify(site: SampleSite, url: str) -> str:
    assert url.startswith(site.base_url + "/"), url
    path = urlsplit(url).path
    if path in EXPECTED:
        return "page"
    if path in MANIFEST["not_found"]:
        return "not_found"
    if path in MANIFEST["redirects"]:
        return "redirect"
    raise AssertionError(f"discovery file lists an unknown URL: {url}")


def test_sitemap_index_lists_outlet_sitemaps(site: SampleSite) -> None:
    _, _, body = fetch(site.url("/sitemap_index.xml"))
    root = ET.fromstring(body)
    assert root.tag == SM + "sitemapindex"
    locs = [sm.findtext(SM + "loc") for sm in root.iter(SM + "sitemap")]
    for outlet in OUTLETS:
        assert site.url(MANIFEST["sitemaps"][outlet]) in locs


def test_sitemaps_list_known_urls_with_lastmod_in_window(site: SampleSite) -> None:
    entries = _sitemap_urls(site, site.url("/sitemap_index.xml"))
    assert len(entries) >= 30
    seen = set()
    for loc, lastmod in entries:
        kind = _classify(site, loc)
        path = urlsplit(loc).path
        seen.add(path)
        assert lastmod and "2021-03-15" <= lastmod[:10] <= "2021-03-20", loc
        if kind == "page":
            assert EXPECTED[path]["lastmod"] == lastmod
        if kind == "not_found":
            assert fetch(loc)[0] == 404
    assert "/private/embargoed/asia-tech-outlook-q2-2021.html" in seen
    assert "/wire/private/drafts/chip-shortage-explainer.html" in seen
    assert {p for p, r in EXPECTED.items() if r["encoding_trap"]} <= seen


def test_google_news_sitemaps(site: SampleSite) -> None:
    for outlet in ("shine", "scmp"):
        _, _, body = fetch(site.url(MANIFEST["sitemaps"][outlet]))
        root = ET.fromstring(body)
        for url in root.iter(SM + "url"):
            path = urlsplit(url.findtext(SM + "loc") or "").path
            pub = url.findtext(f"{NEWS}news/{NEWS}publication_date")
            assert pub == EXPECTED[path]["published_at"]
            assert url.findtext(f"{NEWS}news/{NEWS}title") == EXPECTED[path]["title"]


def test_feeds_parse_and_link_to_known_pages(site: SampleSite) -> None:
    kinds = set()
    for outlet, feed in MANIFEST["feeds"].items():
        status, _, body = fetch(site.url(feed))
        assert status == 200
        root = ET.fromstring(body)
        if root.tag == "rss":
            kinds.add("rss")
            assert root.get("version") == "2.0"
            items: list[tuple[str, str]] = [
                (i.findtext("link") or "", i.findtext("pubDate") or "") for i in root.iter("item")
            ]
            for _, date in items:
                assert parsedate_to_datetime(date).tzinfo is not None
        else:
            kinds.add("atom")
            assert root.tag == ATOM + "feed"
            items = []
            for entry in root.iter(ATOM + "entry"):
                link_el = entry.find(ATOM + "link")
                href = link_el.get("href", "") if link_el is not None else ""
                items.append((href, entry.findtext(ATOM + "updated") or ""))
        assert items, feed
        for link, date in items:
            assert _classify(site, link) in ("page", "redirect")
            assert urlsplit(link).path.startswith(f"/{outlet}/")
            assert date
    assert kinds == {"rss", "atom"}


def test_feed_aliases_redirect_or_carry_tracking_parameters(site: SampleSite) -> None:
    for src, dst in MANIFEST["redirects"].items():
        status, headers, body = fetch(site.url(src))
        assert status == 301 and body == b""
        assert headers["Location"] == site.url(dst)
    status, _, _ = fetch(
        site.url(next(p for p in ARTICLES if p.startswith("/scmp/")) + "?utm_source=rss_feed")
    )
    assert status == 200


def test_directory_without_slash_redirects(site: SampleSite) -> None:
    status, headers, _ = fetch(site.url("/technode/category/news"))
    assert status == 301 and headers["Location"] == site.url("/technode/category/news/")


def test_missing_hidden_and_traversal_paths_are_404(site: SampleSite) -> None:
    for path in [
        "/nope.html",
        "/_headers.json",
        "/technode/../../server.py",
        "/%2e%2e/server.py",
        *MANIFEST["not_found"],
    ]:
        assert fetch(site.url(path))[0] == 404, path


def test_non_get_methods_are_refused(site: SampleSite) -> None:
    req = urllib.request.Request(site.url("/robots.txt"), data=b"x=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 405


# ---------------------------------------------------------------- caching and overrides
def test_conditional_get_with_etag_and_last_modified(site: SampleSite) -> None:
    url = site.url("/technode/feed.xml")
    status, headers, _ = fetch(url)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert fetch(url, {"If-None-Match": etag})[0] == 304
    assert fetch(url, {"If-None-Match": f'"nope", W/{etag}'})[0] == 304
    assert fetch(url, {"If-None-Match": '"nope"'})[0] == 200
    assert fetch(url, {"If-Modified-Since": last_modified})[0] == 304
    assert fetch(url, {"If-Modified-Since": "Mon, 01 Mar 2021 00:00:00 GMT"})[0] == 200
    # If-None-Match wins over If-Modified-Since
    assert fetch(url, {"If-None-Match": '"nope"', "If-Modified-Since": last_modified})[0] == 200
    status, headers304, body304 = fetch(url, {"If-None-Match": etag})
    assert body304 == b"" and headers304["ETag"] == etag


def test_head(site: SampleSite) -> None:
    path = next(iter(ARTICLES))
    _, get_headers, body = fetch(site.url(path))
    status, headers, head_body = fetch(site.url(path), method="HEAD")
    assert status == 200 and head_body == b""
    assert headers["Content-Length"] == str(len(body))
    assert headers["ETag"] == get_headers["ETag"]


def test_override_changes_content_behind_the_same_etag(site: SampleSite) -> None:
    path = "/republicworld/rss/technology-news.xml"
    try:
        site.set_override(
            path,
            body="<rss version='2.0'><channel><link>{{BASE_URL}}/x</link></channel></rss>",
            headers={"ETag": '"old"'},
        )
        status, headers, body = fetch(site.url(path))
        assert status == 200 and headers["ETag"] == '"old"'
        assert body.decode() == f"<rss version='2.0'><channel><link>{site.base_url}/x</link></channel></rss>"
        assert headers["Content-Type"] == "application/xml"
        assert fetch(site.url(path), {"If-None-Match": '"old"'})[0] == 304
    finally:
        site.clear_override(path)
    status, headers, body = fetch(site.url(path))
    assert headers["ETag"] != '"old"' and b"<item>" in body


def test_override_status_and_new_paths(site: SampleSite) -> None:
    path = next(iter(ARTICLES))
    try:
        site.set_override(path, status=503, headers={"Retry-After": "1"})
        status, headers, _ = fetch(site.url(path))
        assert status == 503 and headers["Retry-After"] == "1"
        site.set_override("/new/page.html", body=b"<html><body>new</body></html>")
        status, _, body = fetch(site.url("/new/page.html"))
        assert (status, body) == (200, b"<html><body>new</body></html>")
        site.set_override("/moved", status=302, headers={"Location": site.url(path)})
        assert fetch(site.url("/moved"))[0] == 302
    finally:
        site.clear_override()
    assert fetch(site.url(path))[0] == 200
    assert fetch(site.url("/new/page.html"))[0] == 404


def test_requests_are_logged_thread_safely(site: SampleSite) -> None:
    marker = f"/robots.txt?probe={time.monotonic_ns()}"
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: fetch(site.url(marker))[0], range(40)))
    assert statuses == [200] * 40
    assert site.requests.count(("GET", marker, 200)) == 40
    fetch(site.url("/does-not-exist"), method="HEAD")
    assert ("HEAD", "/does-not-exist", 404) in site.requests
    fetch(site.url("/robots.txt"), {"If-None-Match": '"abc"', "User-Agent": "probe-agent"})
    last = site.request_log[-1]
    assert last["path"] == "/robots.txt" and last["headers"]["User-Agent"] == "probe-agent"


def test_quiet_and_restartable(capfd: pytest.CaptureFixture[str]) -> None:
    with SampleSite(port=0) as s:
        fetch(s.url("/robots.txt"))
        fetch(s.url("/missing"))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    with pytest.raises(RuntimeError):
        _ = SampleSite().base_url


# ---------------------------------------------------------------- encoding traps
def test_gb2312_header_trap(site: SampleSite) -> None:
    assert EXPECTED[GB2312_TRAP]["encoding_trap"] == "utf8-as-gb2312"
    status, headers, body = fetch(site.url(GB2312_TRAP))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=gb2312"
    text = body.decode("utf-8")  # the bytes are UTF-8
    for sentence in EXPECTED[GB2312_TRAP]["must_contain"]:
        assert sentence in text
    assert body.decode("gb18030", errors="replace") != text  # what a header-trusting client sees


def test_gbk_declared_page(site: SampleSite) -> None:
    assert EXPECTED[GBK_PAGE]["encoding_trap"] == "gbk-declared"
    status, headers, body = fetch(site.url(GBK_PAGE))
    assert status == 200 and headers["Content-Type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("gbk")
    assert '<meta charset="gbk">' in text
    assert len(re.findall(r"[\u4e00-\u9fff]", visible_text(text))) >= 300


def test_shine_page_keeps_its_mojibake(site: SampleSite) -> None:
    status, headers, body = fetch(site.url(SHINE_SEED))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    doc = lxml.html.document_fromstring(body.decode("utf-8"))
    assert doc.findtext(".//title") == SHINE_TITLE_MOJIBAKE + " | SHINE News"
    assert doc.xpath("string(//h1)") == SHINE_TITLE_MOJIBAKE
    spans = [norm(s.text_content()) for s in doc.iter("span")]
    assert SHINE_COPYRIGHT in spans and SHINE_BEIAN in spans
    assert "\ue044" in body.decode("utf-8")
    assert EXPECTED[SHINE_SEED]["title"] == "Regulators hold talks with tech firms over \u2018deepfake\u2019"
    body_text = norm(doc.xpath("string(//div[contains(@class, 'article-body')])"))
    assert "\u9225" not in body_text.replace(SHINE_TITLE_MOJIBAKE, "")


# ---------------------------------------------------------------- expected.json honesty
def test_expected_records_are_well_formed() -> None:
    stories: dict[str, list[str]] = {}
    for path, rec in EXPECTED.items():
        assert rec["kind"] in {"article", "index", "tag", "soft404", "private"}
        assert rec["source"] in OUTLETS
        assert rec["encoding_trap"] in {None, "gbk-declared", "utf8-as-gb2312"}
        if rec["kind"] == "article":
            assert 3 <= len(rec["must_contain"]) <= 6, path
            assert "2021-03-15" <= rec["published"] <= "2021-03-20"
            assert rec["published_at"].startswith(rec["published"])
            assert rec["title"] and rec["story"]
            stories.setdefault(rec["story"], []).append(path)
        if rec["kind"] != "private":
            assert path.startswith(f"/{rec['source']}/")
        if rec["near_duplicate_of"]:
            assert EXPECTED[rec["near_duplicate_of"]]["story"] == rec["story"]
        # already in normalised form, so they can be looked up verbatim in normalised document text
        for s in [rec["title"], *rec["must_contain"], *rec["must_not_contain"]]:
            assert s == unicodedata.normalize("NFC", s) == norm(s) and "\xa0" not in s, s
    assert len(stories["deepfake-summons"]) == 6
    assert len(SEED_ARTICLES) == 5
    assert sum(1 for r in ARTICLES.values() if r["near_duplicate_of"]) == 1
    assert {r["encoding_trap"] for r in EXPECTED.values()} == {None, "gbk-declared", "utf8-as-gb2312"}
    assert {r["kind"] for r in EXPECTED.values()} == {"article", "index", "tag", "soft404", "private"}


def test_every_outlet_has_articles_index_and_tag_pages() -> None:
    for outlet in OUTLETS:
        kinds = [r["kind"] for p, r in EXPECTED.items() if p.startswith(f"/{outlet}/")]
        assert kinds.count("article") >= 3 and "index" in kinds and "tag" in kinds, outlet


def test_scmp_has_unrelated_article_on_the_same_regulator(pages: dict[str, str]) -> None:
    other = [p for p, r in ARTICLES.items() if r["source"] == "scmp" and r["story"] != "deepfake-summons"]
    texts = [article_body(pages[p]) for p in other]
    assert any("Cyberspace Administration of China" in t and "deepfake" not in t.lower() for t in texts)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_must_contain_and_must_not_contain_are_on_the_page(pages: dict[str, str], path: str) -> None:
    text = visible_text(pages[path])
    rec = EXPECTED[path]
    for sentence in rec["must_contain"]:
        assert norm(sentence) in text, sentence
    for noise in rec["must_not_contain"]:
        assert norm(noise) in text, noise
        for sentence in rec["must_contain"]:
            assert norm(noise) not in norm(sentence)


def test_near_duplicate_is_a_small_edit(pages: dict[str, str]) -> None:
    (copy,) = [p for p, r in ARTICLES.items() if r["near_duplicate_of"]]
    orig = EXPECTED[copy]["near_duplicate_of"]

    def paragraphs(path: str) -> list[str]:
        doc = lxml.html.document_fromstring(pages[path])
        body = doc.xpath("//div[contains(@class, 'article-body')]")[0]
        return [norm(p.text_content()) for p in body.iter("p")]

    a, b = set(paragraphs(copy)), set(paragraphs(orig))
    assert len(a - b) in (1, 2)
    assert len(a & b) >= 8


@pytest.mark.parametrize("path", sorted(ARTICLES))
def test_trafilatura_finds_the_lead(pages: dict[str, str], path: str) -> None:
    extracted = trafilatura.extract(pages[path], include_comments=False, deduplicate=False) or ""
    assert norm(EXPECTED[path]["must_contain"][0]) in norm(extracted)


def test_seed_articles_extract_their_first_sentence(pages: dict[str, str]) -> None:
    assert len(SEED_ARTICLES) == 5
    for path, rec in SEED_ARTICLES.items():
        extracted = trafilatura.extract(pages[path], include_comments=False, deduplicate=False) or ""
        assert norm(rec["must_contain"][0]) in norm(extracted), path


def test_article_metadata_on_pages(pages: dict[str, str]) -> None:
    for path, rec in ARTICLES.items():
        doc = lxml.html.document_fromstring(pages[path])
        canonical = doc.xpath("//link[@rel='canonical']/@href")
        assert canonical and urlsplit(canonical[0]).path == path
        blocks = [json.loads(s) for s in doc.xpath("//script[@type='application/ld+json']/text()")]
        for block in blocks:
            for node in block.get("@graph", [block]):
                if node.get("@type") == "NewsArticle":
                    assert node["datePublished"] == rec["published_at"]
                    assert node["headline"] == rec["title"]


# ---------------------------------------------------------------- sources
def test_sources_yaml(site: SampleSite) -> None:
    text = sources_yaml(site.base_url + "/")
    assert "{{BASE_URL}}" not in text
    sources = yaml.safe_load(text)["sources"]
    assert [s["name"] for s in sources] == OUTLETS
    for src in sources:
        assert set(src) >= {"name", "feeds", "sitemaps", "start_urls", "allow", "schedule"}
        for url in src["feeds"] + src["sitemaps"]:
            assert url.startswith(site.base_url + "/") and fetch(url)[0] == 200
        allow = [re.compile(a) for a in src["allow"]]
        for path in EXPECTED:
            allowed = any(a.search(path) for a in allow)
            assert allowed == path.startswith(f"/{src['name']}/"), (src["name"], path)


# ---------------------------------------------------------------- command line
def test_command_line_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.sample_site.server", "--port", "0"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
        assert fetch(base + "/robots.txt")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0

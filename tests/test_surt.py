"""SURT keys of the CDXJ index: the same keys the web-archiving tools compute.

Replay tools (pywb, ReplayWeb.page) look a URL up by its SURT; an index keyed any other
way replays nothing. The reference is the ``surt`` package that pywb and py-wacz use: it
lives in pywb's own venv (``.venv-pywb``, made by CI), so the differential test runs it
there, in one subprocess, over a few thousand generated URLs.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tools import pywb_bin

from evidence.bundle.surt import surt

# Each expectation was checked against surt 0.3.1 (surt.surt(url) with its defaults).
KNOWN = [
    ("https://www.Example.com:443/Path/To/?b=2&a=1", "com,example)/path/to?a=1&b=2"),
    ("https://127.0.0.1:36905/listing", "1,0,0,127:36905)/listing"),
    ("http://2130706433/x", "1,0,0,127)/x"),
    ("http://0177.0.0.1/", "1,0,0,127)/"),
    ("http://127.1/", "1,0,0,127)/"),
    ("http://[::1]:8080/x", "::1:8080)/x"),
    ("https://www2.example.com/", "com,example)/"),
    ("https://sub.www.example.com/", "com,example,www,sub)/"),
    ("https://example.com/a?b", "com,example)/a?b"),
    ("https://example.com/a?b=&a", "com,example)/a?a&b="),
    ("https://example.com/?Z=1&a=2", "com,example)/?a=2&z=1"),
    ("https://example.com:8443/a%20b?x=%2F", "com,example:8443)/a%20b?x=/"),
    ("https://example.com/a//b/./c/../d/", "com,example)/a/b/d"),
    ("https://example.com/%2541", "com,example)/a"),
    ("https://example.com/a b#frag", "com,example)/a%20b"),
    ("http://example.com/?", "com,example)/"),
    ("example.com/x", "com,example)/x"),
    ("http://http://example.com/", "com,example)/"),
    ("https://bücher.example/", "example,xn--bcher-kva)/"),
    ("https://user:pw@example.com/", "com,example)/"),
    ("https://example.com/x?jsessionid=0123456789abcdef0123456789abcdef&a=1", "com,example)/x?a=1"),
    ("https://item.taobao.com/item.htm?spm=a.b&id=123", "com,taobao,item)/item.htm?id=123&spm=a.b"),
    ("", "-"),
]


@pytest.mark.parametrize(("url", "key"), KNOWN)
def test_known_keys(url: str, key: str) -> None:
    assert surt(url) == key


_PIECES = st.sampled_from(
    [
        "a", "B", "0", "9", "www.", "www7.", ".", "..", "/", "//", "?", "&", "=", "#", "%", "%2F", "%25", "%41",
        "%zz", " ", "\t", ":", "@", ";", "~", "é", "ü", "中", "(", ")", "+", ",", "'", '"', "[", "]", "-", "_",
        "jsessionid=0123456789abcdef0123456789abcdef", "sid=", "cfid=1&cftoken=2",
    ]
)  # fmt: skip
_HOSTS = st.sampled_from(
    [
        "example.com", "WWW.Example.COM", "www2.shop.example", "127.0.0.1", "10.1", "2130706433", "0177.0.0.01",
        "[::1]", "[2001:DB8::1]", "bücher.example", "a..b.example", ".example.", "xn--bcher-kva.example", "localhost",
        "999.1.1.1", "08.1.1.1", "user:pw@example.com", "example.com%2Ex",
    ]
)  # fmt: skip
_URLS = st.builds(
    lambda scheme, host, port, path, query: f"{scheme}{host}{port}{path}{query}",
    st.sampled_from(["http://", "https://", "HTTPS://", "", "http://http://", "ftp://"]),
    _HOSTS,
    st.sampled_from(["", ":80", ":443", ":8080", ":", ":0"]),
    st.lists(_PIECES, max_size=8).map("".join).map(lambda p: "/" + p),
    st.one_of(st.just(""), st.lists(_PIECES, max_size=8).map(lambda q: "?" + "".join(q))),
)


def _reference(urls: list[str]) -> list[str | None]:
    bin_dir = pywb_bin()
    if bin_dir is None:
        pytest.skip("the reference `surt` package comes with pywb: make .venv-pywb (see .ci/run) or set EVIDENCE_PYWB")
    code = (
        "import json, sys, surt\n"
        "def key(u):\n"
        "    try:\n"
        "        return surt.surt(u)\n"
        "    except Exception:\n"
        "        return None  # an URL the reference cannot parse (for example a bad port)\n"
        "print(json.dumps([key(u) for u in json.load(sys.stdin)]))"
    )
    proc = subprocess.run(
        [str(bin_dir / "python"), "-c", code], input=json.dumps(urls), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out: list[str | None] = json.loads(proc.stdout)
    return out


def test_known_keys_agree_with_the_reference() -> None:
    urls = [u for u, _ in KNOWN]
    assert _reference(urls) == [k for _, k in KNOWN]


def test_generated_urls_agree_with_the_reference() -> None:
    urls: list[str] = []

    @settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(_URLS)
    def collect(url: str) -> None:
        urls.append(url)

    collect()
    expected = _reference(urls)
    compared = [(u, e) for u, e in zip(urls, expected, strict=True) if e is not None]
    assert len(compared) > len(urls) * 0.9
    wrong = [(u, surt(u), e) for u, e in compared if surt(u) != e]
    assert not wrong, wrong[:20]

"""Content of the local test site: HTML pages, a stylesheet, scripts, PNGs and a PDF.

Everything is generated in memory, deterministically, with the standard library.
"""

from __future__ import annotations

import json
import struct
import zlib
from functools import cache

PRODUCTS = [
    ("Leather handbag 'Aurora'", "129.00", (200, 60, 60)),
    ("Silk scarf 'Nimbus'", "49.90", (60, 140, 200)),
    ("Sneakers 'Comet' (replica)", "79.00", (60, 170, 90)),
    ("Wrist watch 'Meridian'", "249.00", (210, 170, 40)),
    ("Sunglasses 'Vega'", "35.50", (140, 80, 190)),
    ("Wallet 'Orion'", "24.00", (90, 90, 90)),
]

REVIEW_COUNT = 4


@cache
def png(width: int, height: int, rgb: tuple[int, int, int], stripe: int = 0) -> bytes:
    """A small RGB PNG: a solid colour with optional darker diagonal stripes."""
    r, g, b = rgb
    dark = (r // 2, g // 2, b // 2)
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            if stripe and ((x + y) // stripe) % 2:
                rows += bytes(dark)
            else:
                rows += bytes((r, g, b))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def product_png(n: int) -> bytes:
    return png(240, 160, PRODUCTS[(n - 1) % len(PRODUCTS)][2], stripe=12)


def avatar_png(n: int) -> bytes:
    return png(64, 64, (255 - 30 * n % 255, 120, 30 * n % 255), stripe=8)


LAZY_BANNER_PNG_SIZE = (600, 120)


def lazy_banner_png() -> bytes:
    return png(*LAZY_BANNER_PNG_SIZE, (250, 120, 0), stripe=20)


STYLE_CSS = b"""
body { font-family: sans-serif; margin: 0; background: #f4f4f4; color: #222; }
header { background: #1b2a49; color: white; padding: 16px 24px; }
.grid { display: grid; grid-template-columns: repeat(3, 260px); gap: 16px; padding: 24px; }
.product { background: white; padding: 10px; border: 1px solid #ccc; }
.price { font-weight: bold; color: #b00; }
.spacer { height: 2600px; background: linear-gradient(#f4f4f4, #dde); }
#reviews { background: #fff7e0; border: 4px solid #f80; margin: 24px; padding: 16px;
           min-height: 200px; }
#reviews.loaded h2 { color: #d60; }
.review { display: flex; gap: 12px; align-items: center; margin: 8px 0; }
footer { padding: 24px; }
"""

LISTING_JS = b"""
(function () {
  var section = document.getElementById('reviews');
  var obs = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting || section.dataset.loaded) { return; }
      section.dataset.loaded = 'yes';
      obs.disconnect();
      fetch('/api/reviews').then(function (r) { return r.json(); }).then(function (data) {
        var html = '<h2>LAZY SECTION LOADED: customer reviews</h2>' +
                   '<img id="lazy-banner" src="/img/lazy-banner.png" width="600" height="120">';
        data.reviews.forEach(function (rv) {
          html += '<div class="review"><img src="' + rv.avatar + '" width="64" height="64">' +
                  '<p>' + rv.text + '</p></div>';
        });
        section.innerHTML = html;
        section.className = 'loaded';
      });
    });
  });
  obs.observe(section);
})();
"""


def listing_html() -> bytes:
    cards = "".join(
        f'<div class="product"><img src="/img/product-{i}.png" width="240" height="160" '
        f'alt="{name}"><h3>{name}</h3><p class="price">EUR {price}</p></div>'
        for i, (name, price, _rgb) in enumerate(PRODUCTS, start=1)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Marketplace listing: designer goods</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/img/favicon.png">
</head><body>
<header><h1>Marketplace: designer goods (seller "bargain-brands-4u")</h1></header>
<main><div class="grid">{cards}</div>
<div class="spacer">Scroll down for reviews</div>
<section id="reviews"><p>Loading reviews...</p></section>
<footer><img loading="lazy" src="/img/footer-lazy.png" width="240" height="160" alt="footer">
<p>End of listing.</p></footer>
</main>
<script src="/static/listing.js"></script>
</body></html>
""".encode()


STAGE_COUNT = 3
STAGE_FINAL_PNG_SIZE = (400, 90)
STAGE_FINAL_RGB = (20, 200, 120)


def stage_final_png() -> bytes:
    return png(*STAGE_FINAL_PNG_SIZE, STAGE_FINAL_RGB)


def staged_html(gap_ms: int) -> bytes:
    """A page whose content arrives in stages, as chained XHRs and late widgets do: after
    ``load``, a pause of ``gap_ms``, then ``/api/stage?n=1``; when it has arrived, another
    pause, ``n=2``, and so on to ``STAGE_COUNT``; the last stage shows an image at the top
    of the page. Nothing is requested while a pause runs, so the network looks quiet."""
    w, h = STAGE_FINAL_PNG_SIZE
    script = f"""
var gap = {gap_ms};
function stage(n) {{
  fetch('/api/stage?n=' + n).then(function (r) {{ return r.json(); }}).then(function (d) {{
    var p = document.createElement('p');
    p.textContent = d.text;
    document.getElementById('stages').appendChild(p);
    if (n < {STAGE_COUNT}) {{
      setTimeout(function () {{ stage(n + 1); }}, gap);
    }} else {{
      document.getElementById('final').innerHTML =
        '<img id="stage-final" src="/img/stage-final.png" width="{w}" height="{h}">';
    }}
  }});
}}
window.addEventListener('load', function () {{ setTimeout(function () {{ stage(1); }}, gap); }});
"""
    body = f'<div id="final"></div><div id="stages"></div><script>{script}</script>'
    return simple_html("Content in stages", body)


def stage_json(n: int) -> bytes:
    return json.dumps({"stage": n, "text": f"STAGE {n} ARRIVED"}).encode()


def reviews_json() -> bytes:
    reviews = [
        {"avatar": f"/img/avatar-{i}.png", "text": f"Verified review #{i}: arrived quickly."}
        for i in range(1, REVIEW_COUNT + 1)
    ]
    return json.dumps({"reviews": reviews}).encode()


def simple_html(title: str, body: str) -> bytes:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>{body}</body></html>"
    ).encode()


def long_html(height_px: int) -> bytes:
    rows = max(1, height_px // 100)
    body = "".join(
        f'<div style="height:100px;background:hsl({(i * 7) % 360},60%,85%)">row {i}</div>'
        for i in range(rows)
    )
    return simple_html("A very long page", body + '<p id="end">END OF LONG PAGE</p>')


HUGE_MAX_MB = 64


@cache
def huge_html(mb: int) -> bytes:
    """A listing of ``mb`` MiB (at most ``HUGE_MAX_MB``): about 7,000 items per MiB, each
    a heading and a paragraph, generated once and kept in memory. Like the 30 MB page of
    issue 11, it takes Chromium minutes to print and many seconds to screenshot."""
    mb = max(1, min(mb, HUGE_MAX_MB))
    head = (
        b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>A huge listing</title>'
        b"<style>.item{border-bottom:1px solid #ccc;padding:4px}</style></head>"
        b'<body><h1 id="top">A huge listing</h1>\n'
    )
    parts = [head]
    size = len(head)
    n = 0
    while size < mb * 1024 * 1024:
        item = (
            f'<div class="item"><h3>Item {n}</h3><p>Lorem ipsum dolor sit amet, consectetur '
            f"adipiscing elit, sed do eiusmod tempor incididunt ut labore {n} et dolore magna "
            "aliqua.</p></div>\n"
        ).encode()
        parts.append(item)
        size += len(item)
        n += 1
    parts.append(b'<p id="end">END OF HUGE PAGE</p></body></html>')
    return b"".join(parts)


def index_html() -> bytes:
    links = [
        "/listing",
        "/redirect/3",
        "/not-found",
        "/server-error",
        "/slow?ms=500",
        "/long?px=30000",
        "/files/catalogue.pdf",
        "/img/product-1.png",
        "/loop",
    ]
    items = "".join(f'<li><a href="{u}">{u}</a></li>' for u in links)
    return simple_html("Evidence test site", f"<ul>{items}</ul>")


def minimal_pdf() -> bytes:
    """A valid one-page PDF with a line of text (xref offsets computed)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        None,  # content stream, below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    stream = b"BT /F1 18 Tf 20 70 Td (Catalogue 2024) Tj ET"
    objects[3] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + (obj or b"") + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


CLOAK_BROWSER_PRICE = "10 EUR"
CLOAK_RAW_PRICE = "999 EUR"


def cloaked_html(browser: bool) -> bytes:
    """A listing that shows a browser (a request with ``Sec-Fetch-Mode``, as every browser
    sends for a navigation) one price and any other client another: cloaking."""
    price = CLOAK_BROWSER_PRICE if browser else CLOAK_RAW_PRICE
    return simple_html(
        "Watch 'Meridian'",
        f'<p class="price" style="font-size:40px">Price: {price}</p><p>Seller: bargain-brands-4u</p>',
    )


TIMED_BLOCK_RGB = (230, 30, 160)
TIMED_BLOCK_SIZE = (300, 80)
TIMED_TEXT = "REVIEWS SHOWN BY TIMER"
TIMED_TITLE = "Reviews loaded"


def timed_html(delay_ms: int) -> bytes:
    """A listing whose reviews (text, a coloured block and the title) are put in by a
    ``setTimeout`` of ``delay_ms``, without any request: "Loading reviews..." until then."""
    w, h = TIMED_BLOCK_SIZE
    r, g, b = TIMED_BLOCK_RGB
    script = f"""
setTimeout(function () {{
  document.getElementById('reviews').innerHTML =
    '<div id="block" style="width:{w}px;height:{h}px;background:rgb({r},{g},{b})"></div>' +
    '<p>{TIMED_TEXT}: 5 stars, arrived quickly.</p>';
  document.title = '{TIMED_TITLE}';
}}, {delay_ms});
"""
    body = f'<section id="reviews"><p>Loading reviews...</p></section><script>{script}</script>'
    return simple_html("Loading...", body)


def ticker_html(every_ms: int) -> bytes:
    """A countdown that changes its text every ``every_ms`` for ever (it never settles)."""
    script = f"""
var left = 3600 * 10;
setInterval(function () {{
  left -= 1;
  document.getElementById('countdown').textContent = 'Deal ends in ' + left + ' ticks';
}}, {every_ms});
"""
    body = f'<p id="countdown">Deal ends soon</p><p>Watch, 10 EUR</p><script>{script}</script>'
    return simple_html("Deal of the day", body)


ZH_HEADING = "名牌手提包专卖"
ZH_PRODUCTS = [("真皮手提包「极光」", "899.00"), ("丝绸围巾「云朵」", "299.00"), ("运动鞋「彗星」高仿", "459.00")]
JA_LINE = "送料無料・即日発送いたします"


def listing_zh_html() -> bytes:
    """A marketplace listing written in Chinese, with one line in Japanese."""
    cards = "".join(
        f'<div class="product"><h3>{name}</h3><p class="price">¥ {price}</p></div>' for name, price in ZH_PRODUCTS
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>商品列表：名牌手提包</title></head>
<body style="margin:0;background:#fff;color:#000">
<h1 id="heading" style="font-size:48px;margin:20px">{ZH_HEADING}</h1>
<div id="products" style="font-size:24px;margin:20px">{cards}</div>
<p lang="ja" style="font-size:24px;margin:20px">{JA_LINE}</p>
</body></html>
""".encode()

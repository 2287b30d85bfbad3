"""A local test marketplace for walks: HTTP on 127.0.0.1, standard library only.

    market = MarketSite.start()
    market.url("/")        # http://127.0.0.1:PORT/
    market.close()

The path an investigator walks, each page tiny:

- ``/`` home with a search box (``#q``, button ``#go``; a GET form to ``/search``);
- ``/search?q=...`` results: links ``a.result`` to listings;
- ``/item/N`` a listing: price ``#price`` (:data:`BASE_PRICE`), a variant picker (buttons
  ``#variant-red``/``#variant-blue`` and a ``<select id="variant">``) whose script changes
  the price (to :data:`RED_PRICE` for red) and draws the price box in :data:`CHANGED_RGB`
  (a colour nothing else on the page has, for pixel checks), and a link ``#seller`` to
- ``/shop/NAME`` the seller's shop page (links to its listings);
- ``/check`` a captcha-like interstitial ("verify you are human");
- ``/login`` a login wall (``#user``, ``#pw``, ``#signin``; the form posts to ``/login``,
  which answers "Signed in").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import Hit, _Handler, _Server, pages

SELLER = "aurora-outlet"
BASE_PRICE = "129.00"
RED_PRICE = "149.00"
BLUE_PRICE = "139.00"
#: The price box's colour once a variant was picked (magenta: on no other part of the pages).
CHANGED_RGB = (255, 0, 255)

_STYLE = (
    "body{font-family:sans-serif;margin:0;background:#fff;color:#222}"
    "header{background:#1b2a49;color:#fff;padding:12px 20px}main{padding:16px 20px}"
    "#price{display:inline-block;padding:10px 16px;font-size:28px;background:#eee;color:#000}"
    "#price.changed{background:rgb(255,0,255);color:#000}"
)

_VARIANT_JS = f"""
function pick(v) {{
  var prices = {{red: '{RED_PRICE}', blue: '{BLUE_PRICE}'}};
  var el = document.getElementById('price');
  el.textContent = 'EUR ' + prices[v];
  el.className = 'changed';
  document.getElementById('variant').value = v;
}}
"""


def _page(title: str, body: str, script: str = "") -> bytes:
    tail = f"<script>{script}</script>" if script else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body><header><b>Bargain Market</b></header>"
        f"<main><h1>{title}</h1>{body}</main>{tail}</body></html>"
    ).encode()


def home_html() -> bytes:
    form = (
        '<form action="/search" method="get"><input id="q" name="q" placeholder="Search">'
        '<button id="go" type="submit">Search</button></form>'
    )
    return _page("Bargain Market", form)


def results_html(query: str) -> bytes:
    rows = "".join(
        f'<li><a class="result" href="/item/{i}">{name}</a> EUR {price}</li>'
        for i, (name, price, _rgb) in enumerate(pages.PRODUCTS[:3], start=1)
    )
    from html import escape

    return _page(f"Results for {escape(query)}", f"<ul>{rows}</ul>")


def item_html(n: int) -> bytes:
    name = pages.PRODUCTS[(n - 1) % len(pages.PRODUCTS)][0]
    body = (
        f'<img src="/img/product-{n}.png" width="240" height="160" alt="">'
        f'<p>Price: <span id="price">EUR {BASE_PRICE}</span></p>'
        '<p><button id="variant-red" onclick="pick(\'red\')">Red</button> '
        '<button id="variant-blue" onclick="pick(\'blue\')">Blue</button> '
        '<select id="variant" onchange="pick(this.value)"><option value="">choose</option>'
        '<option value="red">red</option><option value="blue">blue</option></select></p>'
        f'<p>Sold by <a id="seller" href="/shop/{SELLER}">{SELLER}</a></p>'
        '<div style="height:1500px"></div><p id="bottom">End of listing.</p>'
    )
    return _page(name, body, _VARIANT_JS)


def shop_html(seller: str) -> bytes:
    from html import escape

    rows = "".join(f'<li><a href="/item/{i}">{name}</a></li>' for i, (name, _p, _c) in enumerate(pages.PRODUCTS, 1))
    return _page(f"Shop of {escape(seller)}", f'<p id="shop">{len(pages.PRODUCTS)} listings</p><ul>{rows}</ul>')


def check_html() -> bytes:
    body = (
        '<div id="captcha"><p>Please verify you are human before continuing.</p>'
        '<label><input type="checkbox" id="robot"> I am not a robot</label></div>'
    )
    return _page("Just a moment...", body)


def login_html() -> bytes:
    form = (
        '<form action="/login" method="post"><p>Sign in to see this page.</p>'
        '<input id="user" name="user"> <input id="pw" name="pw" type="password">'
        '<button id="signin" type="submit">Sign in</button></form>'
    )
    return _page("Sign in", form)


class _MarketHandler(_Handler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.server.record(self)
        if path == "/":
            self._send(200, home_html())
        elif path == "/search":
            self._send(200, results_html(query.get("q", "")))
        elif path.startswith("/item/") and path[6:].isdigit():
            self._send(200, item_html(int(path[6:])))
        elif path.startswith("/img/product-") and path.endswith(".png"):
            self._send(200, pages.product_png(int(path[len("/img/product-") : -4])), "image/png")
        elif path.startswith("/shop/"):
            self._send(200, shop_html(path[6:]))
        elif path == "/check":
            self._send(200, check_html())
        elif path == "/login":
            self._send(200, login_html())
        elif path == "/slow":
            import time

            time.sleep(int(query.get("ms", "1000")) / 1000)
            self._send(200, _page("Slow page", "<p>Finally here.</p>"))
        else:
            self._send(404, _page("404 Not Found", "<p>No such page.</p>"))

    def do_POST(self) -> None:
        self.server.record(self)
        length = min(int(self.headers.get("Content-Length") or 0), 1 << 16)
        self.rfile.read(length)
        if urlsplit(self.path).path == "/login":
            self._send(200, _page("Signed in", '<p id="welcome">Welcome back.</p>'))
        else:
            self._send(404, _page("404 Not Found", "<p>No such page.</p>"))


class _MarketServer(_Server):
    handler: type[BaseHTTPRequestHandler] = _MarketHandler


@dataclass
class MarketSite:
    """The running marketplace: one HTTP server on 127.0.0.1."""

    port: int
    hits: list[Hit]
    _server: _MarketServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @classmethod
    def start(cls) -> MarketSite:
        hits: list[Hit] = []
        server = _MarketServer(hits, threading.Lock())
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        return cls(port=server.server_address[1], hits=hits, _server=server, _thread=thread)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MarketSite:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

#!/usr/bin/env python3
"""Serves the demo page on http://127.0.0.1:8080 (or PORT): index.html, www/, pkg/ and data/
of the repository, nothing else, with a strict Content-Security-Policy (the page loads nothing
from other origins and runs no inline script), cross-origin isolated (COOP and COEP), and the
brotli or gzip copy `make build` wrote of a file (scripts/compress.mjs) to a browser that
accepts it, while that copy is not older than the file.

Usage: serve.py [PORT]   (0 picks a free port; the address served is printed first)
"""

import http.server
import os
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "index.html"
SERVED_DIRS = (ROOT / "www", ROOT / "pkg", ROOT / "data")
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# The suffix of each pre-compressed copy, by content coding, the preferred first.
COPIES = {"br": ".br", "gzip": ".gz"}


def is_served(file):
    """Whether `file`, the path a request maps to, is index.html or lies inside www/, pkg/ or
    data/ once ".." and symbolic links are worked out: no way of spelling the path, and no link,
    reaches the rest of the repository or of the machine."""
    try:
        file = Path(file).resolve()
        if file == ROOT:  # the root answers with its index.html, never with a listing
            file = INDEX.resolve(strict=True)
        return file == INDEX or any(file.is_relative_to(d.resolve()) for d in SERVED_DIRS)
    except (OSError, RuntimeError, ValueError):  # no index.html, a link loop, a NUL byte
        return False


def accepted_codings(accept_encoding):
    """The content codings an Accept-Encoding header accepts: those it names without q=0."""
    accepted = set()
    for item in accept_encoding.split(","):
        coding, *params = [part.strip() for part in item.split(";")]
        q = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            if float(q) > 0:
                accepted.add(coding.lower())
        except ValueError:
            pass
    return accepted


def copy_to_send(file, accept_encoding):
    """The coding of the pre-compressed copy of `file` to send instead of it, or None: the first
    of COPIES that the request accepts and that exists, is served, and is not older than
    `file` (a copy older than its file is out of date)."""
    if not os.path.isfile(file):
        return None
    accepted = accepted_codings(accept_encoding)
    for coding, suffix in COPIES.items():
        copy = file + suffix
        fresh = os.path.isfile(copy) and os.path.getmtime(copy) >= os.path.getmtime(file)
        if coding in accepted and fresh and is_served(copy):
            return coding
    return None


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".gz": "application/gzip",
    }

    # The coding of the pre-compressed copy this response sends, or None.
    coding = None

    def send_head(self):
        # GET and HEAD both come through here.
        self.coding = None
        file = self.translate_path(self.path)
        if not is_served(file):
            self.send_error(404, "Not served")
            return None
        self.coding = copy_to_send(file, self.headers.get("Accept-Encoding", ""))
        return super().send_head()

    def translate_path(self, path):
        # Once send_head has chosen a copy, the request maps to it: the standard send_head then
        # opens the copy and sends its length and date (or 304 Not Modified).
        file = super().translate_path(path)
        return file + COPIES[self.coding] if self.coding else file

    def guess_type(self, path):
        if self.coding:
            path = path.removesuffix(COPIES[self.coding])
        return super().guess_type(path)

    def send_error(self, *args, **kwargs):
        self.coding = None  # an error page is never compressed
        super().send_error(*args, **kwargs)

    def end_headers(self):
        if self.coding:
            self.send_header("Content-Encoding", self.coding)
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A browser that stops a download midway (the page cancels the others when one file
        # fails) is no error of the server's.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    server = Server(("127.0.0.1", port), partial(Handler, directory=str(ROOT)))
    print(f"Serving the demo on http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Serves the demo page on http://127.0.0.1:8080 (or PORT): index.html, www/, pkg/ and data/
of the repository, nothing else, with a strict Content-Security-Policy (the page loads nothing
from other origins and runs no inline script).

Usage: serve.py [PORT]   (0 picks a free port; the address served is printed first)
"""

import http.server
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


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".gz": "application/gzip",
    }

    def send_head(self):
        # GET and HEAD both come through here.
        if not is_served(self.translate_path(self.path)):
            self.send_error(404, "Not served")
            return None
        return super().send_head()

    def end_headers(self):
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

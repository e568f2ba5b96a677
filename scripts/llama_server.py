#!/usr/bin/env python3
"""Serve a GGUF model over llama.cpp's HTTP server, in-process through xllamacpp.

The xllamacpp wheel ships the server as a library and no console script, so this is the
program `scripts/model.sh start` runs. It serves, on one address:
  /health, /v1/models, /v1/chat/completions (plain and SSE), /v1/messages (Anthropic,
  plain and streaming) and, with --embedding, /v1/embeddings.

It runs until SIGTERM or SIGINT, or until the process named by --watch-pid (or the
LOUPE_MODEL_WATCH_PID environment variable) is gone: tests that start a server pass their
own pid, so a crashed or killed test run never leaves a server behind.
"""

import argparse
import os
import signal
import sys
import threading

from server_common import add_server_args, remove_pidfile, watch_pid


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="path to the .gguf file")
    add_server_args(p, port=8080, watch_env="LOUPE_MODEL_WATCH_PID")
    p.add_argument("--alias", default="smollm2-135m", help="model name the API reports and accepts")
    # The context is shared by the parallel slots: 4096 over 4 slots gives each request 1024.
    p.add_argument("--ctx", type=int, default=4096)
    p.add_argument("--parallel", type=int, default=4)
    # One thread, not two, on these two-core machines. Measured here (150 tokens): idle,
    # 1 thread ~53 tokens/s and 2 threads ~90-100; but with one other busy process (a
    # build, a test binary) 1 thread kept ~55 while 2 fell to ~27-31, with two busy
    # processes 36 against 18, and during a parallel cargo build 2 threads fell to 3-17:
    # ggml's threads wait for each other at every step, so one descheduled thread stalls
    # both. Tests and runs share the machine, so steady beats fast. LOUPE_MODEL_THREADS=2
    # in model.sh for an otherwise idle machine.
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--poll",
        type=int,
        default=50,
        help="0-100: how long ggml's threads busy-wait for work (0 sleeps at once)",
    )
    p.add_argument("--embedding", action="store_true", help="also serve /v1/embeddings (mean pooling)")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    if not os.path.isfile(args.model):
        print(f"llama_server: no model file at {args.model}", file=sys.stderr)
        return 2

    import xllamacpp  # imported late so --help works without the wheel

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cpuparams.poll = args.poll
    params.cpuparams_batch.poll = args.poll
    params.model_alias = {args.alias}
    params.embedding = args.embedding
    if args.embedding:
        # The GGUF names no pooling, and /v1/embeddings refuses per-token ("none") output.
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # Loads the model and starts listening (in its own threads) before it returns.
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as e:
        print(f"llama_server: {e} (is {args.host}:{args.port} free? see the log above)", file=sys.stderr)
        return 1
    print(f"llama_server: listening on {server.listening_address} as {args.alias}", flush=True)

    def on_watched_gone():
        print(f"llama_server: process {args.watch_pid} is gone; exiting", flush=True)
        stop.set()

    watch_pid(args.watch_pid, on_watched_gone)
    while not stop.wait(1.0):
        pass

    print("llama_server: stopping", flush=True)
    remove_pidfile(args.pidfile)
    sys.stdout.flush()
    sys.stderr.flush()
    # Not `del server`: measured here, the Server destructor can wait forever for its main
    # loop while a request is in flight. Nothing needs flushing, so leave at once.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

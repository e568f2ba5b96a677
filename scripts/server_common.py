"""What scripts/llama_server.py and scripts/embed_server.py do the same way around their
servers: the address and lifecycle flags, following the process that started them
(--watch-pid), and removing their pidfile when they exit.

Both are run as `python scripts/NAME.py`, which puts this directory on sys.path.
"""

import argparse
import os
import threading
import time
from typing import Callable, Optional


def add_server_args(p: argparse.ArgumentParser, port: int, watch_env: str) -> None:
    """--host, --port (default `port`), --watch-pid (default from the `watch_env`
    environment variable) and --pidfile."""
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=port)
    p.add_argument(
        "--watch-pid",
        type=int,
        default=int(os.environ.get(watch_env, "0") or 0),
        help=f"exit when this process is gone (0: never; default ${watch_env})",
    )
    p.add_argument("--pidfile", help="removed at exit if it still names this process")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_pid(pid: int, on_gone: Callable[[], None]) -> None:
    """Calls on_gone (once, from a daemon thread) when process `pid` is gone; nothing for 0.

    Tests that start a server pass their own pid, so a crashed or killed test run never
    leaves a server behind."""
    if not pid:
        return

    def watch() -> None:
        while alive(pid):
            time.sleep(0.5)
        on_gone()

    threading.Thread(target=watch, daemon=True).start()


def remove_pidfile(path: Optional[str]) -> None:
    """Removes the pidfile if it still names this process: a server started again on the
    same port meanwhile owns the file now."""
    if not path:
        return
    try:
        with open(path) as f:
            if f.read().strip() == str(os.getpid()):
                os.remove(path)
    except OSError:
        pass

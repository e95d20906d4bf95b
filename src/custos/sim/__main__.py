"""`python -m custos.sim --cameras N [--codec ...]`: run the simulator standalone and print its URLs.

The demo uses this. It keeps the server running until Ctrl-C or SIGTERM; commands typed on stdin
(`cut cam01`, `freeze cam02`, `stats`...) are passed to the server and its answers printed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from custos.errors import CustosError
from custos.sim.handle import SimCameras
from custos.sim.spec import CODECS, cameras


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m custos.sim", description="Serve synthetic RTSP cameras.")
    parser.add_argument("--cameras", type=int, default=4, help="number of cameras, named cam01..camNN")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="listen address")
    parser.add_argument("--codec", choices=CODECS, default="h264")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--bitrate-kbps", type=int, default=4000)
    parser.add_argument("--gop-s", type=int, default=2)
    parser.add_argument("--loop-s", type=int, default=10)
    parser.add_argument("--username", help="enable digest auth with this user (needs --password)")
    parser.add_argument("--password")
    parser.add_argument("--cache-dir", type=Path, help="pre-encoded loops (default ~/.cache/custos/sim)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        specs = cameras(
            args.cameras,
            codec=args.codec,
            width=args.width,
            height=args.height,
            fps=args.fps,
            bitrate_kbps=args.bitrate_kbps,
            gop_s=args.gop_s,
            loop_s=args.loop_s,
        )
        sim = SimCameras(
            specs,
            port=args.port,
            username=args.username,
            password=args.password,
            cache_dir=args.cache_dir,
            host=args.host,
        ).start()
    except CustosError as exc:
        print(f"custos.sim: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        print(f"custos.sim: serving {len(specs)} cameras (server pid {sim.pid}); Ctrl-C stops", flush=True)
        for spec in specs:
            print(sim.url(spec.name), flush=True)
        threading.Thread(target=_relay_commands, args=(sim, done), daemon=True).start()
        done.wait()
    finally:
        sim.stop()
    return 0


def _relay_commands(sim: SimCameras, done: threading.Event) -> None:
    """Let a person at the terminal break cameras: `cut NAME`, `restart`, `freeze`, `thaw`, `stats`."""
    actions = {"cut": sim.cut, "restart": sim.restart, "freeze": sim.freeze, "thaw": sim.thaw}
    for line in sys.stdin:
        words = line.split()
        try:
            if not words:
                continue
            if words[0] == "stats":
                print(sim.stats(), flush=True)
            elif words[0] == "stop":
                break
            elif words[0] in actions and len(words) == 2:
                actions[words[0]](words[1])
                print("ok", flush=True)
            else:
                print("commands: cut|restart|freeze|thaw NAME, stats, stop", flush=True)
        except CustosError as exc:
            print(exc, flush=True)
    else:
        return  # end of stdin (e.g. run in the background): keep serving until a signal
    done.set()


if __name__ == "__main__":
    sys.exit(main())

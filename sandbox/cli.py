"""``python -m sandbox serve [--host 127.0.0.1] [--port 4566] [--speed N] [--seed S]``;
``python -m sandbox probe URL [--interval 0.05] [--duration N]`` (sandbox/traffic/probe.py)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox",
                                     description="A local AWS for taskspread.ecs: moto plus "
                                                 "an ECS control plane that schedules tasks.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the AWS APIs on one loopback endpoint")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (loopback only by default)")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument("--speed", type=float, default=1.0,
                       help="emulated seconds per wall second (e.g. 50 for demos)")
    serve.add_argument("--manual-clock", action="store_true",
                       help="stop time; advance it with POST /_sandbox/advance")
    serve.add_argument("--seed", type=int, default=0, help="seed of the random source")
    serve.add_argument("--no-data-plane", action="store_true",
                       help="do not serve HTTP for tasks and load balancers")
    serve.add_argument("--log-level", default=os.environ.get("SANDBOX_LOG_LEVEL", "INFO"))
    demo = sub.add_parser("demo", help="serve the sandbox and run the deploy and validate "
                                       "playbooks against it (what make demo runs)")
    demo.add_argument("--keep", action="store_true",
                      help="keep serving after the playbooks (Ctrl-C stops)")
    walk = sub.add_parser("walkthrough", help="serve the sandbox and show the scale-down / "
                                              "scale-up skew without taskspread (boto3 only)")
    for sub_parser in (demo, walk):
        sub_parser.add_argument("--port", type=int, default=4566)
        sub_parser.add_argument("--speed", type=float, default=50.0)
        sub_parser.add_argument("--log-level",
                                default=os.environ.get("SANDBOX_LOG_LEVEL", "WARNING"))
    from .traffic.probe import add_parser as add_probe_parser

    add_probe_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Werkzeug logs every request at INFO; keep the console for what the sandbox does.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.command == "probe":
        from .traffic.probe import main as probe_main

        return probe_main(args)
    if args.command == "demo":
        from .demo import main as demo_main

        return demo_main(args.port, args.speed, keep=args.keep)
    if args.command == "walkthrough":
        from .demo import walkthrough

        return walkthrough(args.port, args.speed)
    from .server import Sandbox

    if args.speed <= 0:
        print("--speed must be positive", file=sys.stderr)
        return 2
    from .config import SandboxConfig

    sandbox = Sandbox(config=SandboxConfig(data_plane=not args.no_data_plane),
                      speed=None if args.manual_clock else args.speed, seed=args.seed,
                      host=args.host, port=args.port)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    sandbox.start()
    print(f"sandbox ready on {sandbox.endpoint}", flush=True)
    done.wait()
    sandbox.stop()
    return 0

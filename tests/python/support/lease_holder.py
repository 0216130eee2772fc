"""A lease holder for the lease tests and the nemesis: claims a node, then draws ids as fast as
it can and appends every one to a file (native uint64) right after drawing it, until SIGTERM
(which closes the lease) or SIGKILL. A refusal (LeaseExpiredError) is waited out; a failed
claim is retried. Prints "node N" each time the lease's node changes, and "ready" once.

    python lease_holder.py URL NAMESPACE OUT [--ttl S] [--layout NAME] [--max-skew S]
                           [--max-lead S] [--batch N] [--max-nodes N] [--seconds S]
                           [--trust-store]
"""

from __future__ import annotations

import argparse
import array
import os
import signal
import sys
import time

from atomic_counter import Layout, LeaseExpiredError, lease_node_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("namespace")
    parser.add_argument("out")
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument("--layout", default="twitter")
    parser.add_argument("--max-skew", type=float, default=0.2)
    parser.add_argument("--max-lead", type=float, default=0.5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--max-nodes", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    parser.add_argument("--trust-store", action="store_true", help="claims without the wait")
    args = parser.parse_args()

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lease = None
    while lease is None:
        try:
            lease = lease_node_id(
                args.url,
                args.namespace,
                layout=Layout.preset(args.layout),
                ttl=args.ttl,
                max_skew=args.max_skew,
                max_lead=args.max_lead,
                max_nodes=args.max_nodes,
                wait=3600,
                trust_store=args.trust_store,
            )
        except Exception as exc:
            print(f"claim failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            if stopping:
                return
            time.sleep(0.05)
    counter = lease.counter()
    node = lease.node
    print(f"node {node}", flush=True)
    print("ready", flush=True)
    end = time.monotonic() + args.seconds if args.seconds else float("inf")
    while not stopping and time.monotonic() < end:
        try:
            if args.batch == 1:
                ids = array.array("Q", [counter.next()])
            else:
                ids = array.array("Q", counter.next_many(args.batch))
        except LeaseExpiredError:
            time.sleep(0.002)
            continue
        os.write(fd, ids.tobytes())
        if lease.node != node:
            node = lease.node
            print(f"node {node}", flush=True)
    lease.close()
    os.close(fd)


if __name__ == "__main__":
    main()

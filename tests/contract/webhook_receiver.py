"""A Standard Webhooks receiver that misbehaves on purpose, for the
notifier's delivery test: it verifies every request's signature with the
`standardwebhooks` package from PyPI (a verifier leadpulse did not write),
and answers at random 500 (about 30%), 429 with Retry-After, or a reply
slower than the client's timeout. Leads whose id ends with the refuse
suffix get 410 Gone: a permanent refusal.

Each request becomes one JSON line in --log: webhook-id, lead id, status
answered, and whether the signature verified.

    python webhook_receiver.py --secret whsec_... --log out.ndjson [--seed 7]
"""

import argparse
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--secret", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--refuse-suffix", default="-gone")
    p.add_argument("--fail-rate", type=float, default=0.30)
    p.add_argument("--slow-rate", type=float, default=0.04)
    p.add_argument("--slow-secs", type=float, default=2.5)
    p.add_argument("--limit-rate", type=float, default=0.05)
    p.add_argument("--keep-bodies", action="store_true",
                   help="log each verified request's JSON body too")
    args = p.parse_args()

    hook = Webhook(args.secret)
    rng = random.Random(args.seed)
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                hook.verify(body, headers)
                valid = True
            except WebhookVerificationError:
                valid = False
            lead = None
            try:
                lead = json.loads(body)["data"]["lead_id"]
            except Exception:
                pass
            with lock:
                roll = rng.random()
            if not valid:
                status, extra, delay = 401, (), 0
            elif lead is not None and lead.endswith(args.refuse_suffix):
                status, extra, delay = 410, (), 0
            elif roll < args.fail_rate:
                status, extra, delay = 500, (), 0
            elif roll < args.fail_rate + args.limit_rate:
                status, extra, delay = 429, (("retry-after", "1"),), 0
            elif roll < args.fail_rate + args.limit_rate + args.slow_rate:
                status, extra, delay = 200, (), args.slow_secs
            else:
                status, extra, delay = 200, (), 0
            if delay:
                time.sleep(delay)
            record = {
                "id": headers.get("webhook-id"),
                "lead_id": lead,
                "status": status,
                "valid": valid,
                "slow": bool(delay),
            }
            if args.keep_bodies and valid:
                record["body"] = json.loads(body)
            with lock:
                log.write(json.dumps(record) + "\n")
            try:
                self.answer(status, extra)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""Stands in for Slack's Web API (chat.postMessage) and for the
response_url of interactive messages, for the notifier's Slack test: it
answers {"ok": true} and writes each request (path and JSON body) as one
line to --log.

    python slack_api.py --log requests.ndjson
"""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    args = p.parse_args()
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            record = {
                "path": self.path,
                "auth": self.headers.get("authorization"),
                "body": json.loads(body or b"null"),
            }
            with lock:
                log.write(json.dumps(record) + "\n")
            out = b'{"ok": true, "ts": "1.0"}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

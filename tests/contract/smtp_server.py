"""A local SMTP server for the notifier's email test (aiosmtpd, from PyPI).
It offers STARTTLS with the given certificate, requires it before AUTH,
accepts one user, and writes each message it receives to --out as a
`.eml` file named after its Message-ID.

    python smtp_server.py --cert c.pem --key k.pem --user u --password p --out DIR
"""

import argparse
import email
import email.policy
import os
import socket
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            data = envelope.original_content or envelope.content
            if isinstance(data, str):
                data = data.encode()
            mid = "unknown"
            for line in data.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    mid = line.split(b":", 1)[1].strip().strip(b"<>").decode()
                    break
            meta = f"X-Test-Tls: {bool(session.ssl)}\r\nX-Test-Auth: {session.authenticated}\r\n"
            tmp = os.path.join(args.out, mid + ".tmp")
            with open(tmp, "wb") as f:
                f.write(meta.encode() + data)
            msg = email.message_from_bytes(data, policy=email.policy.default)
            text = msg.get_body(("plain",)).get_content()
            with open(os.path.join(args.out, mid + ".txt"), "w") as f:
                f.write(text)
            # The .eml last: the test waits for the .txt, then reads both.
            os.replace(tmp, os.path.join(args.out, mid + ".eml"))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        return AuthResult(success=ok)

    # Controller checks its server by connecting to its port: pick one.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
        server_hostname="localhost",
    )
    controller.start()
    print(f"listening {port}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

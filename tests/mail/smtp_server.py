#!/usr/bin/env python3
"""A real SMTP server on loopback for Vigie's mail tests (aiosmtpd).

    smtp_server.py --port P --out DIR [--mode plain|starttls|tls --cert PEM --key PEM]

Each accepted message is written to DIR as <id>.eml (the raw source as
received) with <id>.helo (the EHLO name the client gave). Prints READY
once listening, then serves until killed.
"""
import argparse
import os
import ssl
import sys
import time
import uuid

from aiosmtpd.controller import Controller


class Saver:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        name = uuid.uuid4().hex
        path = os.path.join(self.out, name)
        with open(path + ".helo", "w", encoding="utf-8") as f:
            f.write(session.host_name or "")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path + ".eml")
        return "250 Message accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()
    kwargs = {}
    if a.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.mode == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=ctx)
    controller = Controller(Saver(a.out), hostname="127.0.0.1", port=a.port, ready_timeout=10, **kwargs)
    try:
        controller.start()
    except Exception:
        # Implicit TLS with a certificate the readiness probe does not trust:
        # the server is up all the same.
        if a.mode != "tls":
            raise
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())

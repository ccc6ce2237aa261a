#!/usr/bin/env python3
"""A real SMTP server on loopback for Vigie's mail tests (aiosmtpd).

    smtp_server.py --port P --out DIR [--mode plain|starttls|tls --cert PEM --key PEM]
                   [--no-8bitmime] [--refuse-rcpt CODE] [--refuse-data CODE]
                   [--hold-reply]

--no-8bitmime: the server does not advertise 8BITMIME and, like a strict
relay, refuses a message holding a byte above 127.
--refuse-rcpt / --refuse-data: every RCPT TO / every message is answered
with that reply code.
--hold-reply: each message is written to DIR first, then the "250" reply
waits until a file named "release" appears in DIR (at most a minute), so
that a test can act between the two.

Each accepted message is written to DIR as <id>.eml (the raw source as
received) with <id>.helo (the EHLO name the client gave). Prints READY
once listening, then serves until killed.
"""
import argparse
import asyncio
import os
import ssl
import sys
import time
import uuid

from aiosmtpd.controller import Controller


class Saver:
    def __init__(self, out, no_8bitmime=False, refuse_rcpt=None, refuse_data=None, hold=False):
        self.out = out
        self.hold = hold
        self.no_8bitmime = no_8bitmime
        self.refuse_rcpt = refuse_rcpt
        self.refuse_data = refuse_data

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.no_8bitmime:
            responses = [r for r in responses if "8BITMIME" not in r]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return f"{self.refuse_rcpt} 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if self.refuse_data:
            return f"{self.refuse_data} message refused"
        if self.no_8bitmime and any(b > 127 for b in raw):
            return "554 5.6.0 8-bit data without 8BITMIME"
        name = uuid.uuid4().hex
        path = os.path.join(self.out, name)
        with open(path + ".helo", "w", encoding="utf-8") as f:
            f.write(session.host_name or "")
        with open(path + ".tmp", "wb") as f:
            f.write(raw)
        os.rename(path + ".tmp", path + ".eml")
        if self.hold:
            release = os.path.join(self.out, "release")
            for _ in range(6000):
                if os.path.exists(release):
                    break
                await asyncio.sleep(0.01)
        return "250 Message accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--no-8bitmime", action="store_true")
    p.add_argument("--refuse-rcpt", type=int)
    p.add_argument("--refuse-data", type=int)
    p.add_argument("--hold-reply", action="store_true")
    a = p.parse_args()
    kwargs = {}
    if a.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.mode == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=ctx)
    controller = Controller(Saver(a.out, a.no_8bitmime, a.refuse_rcpt, a.refuse_data, a.hold_reply), hostname="127.0.0.1", port=a.port, ready_timeout=10, **kwargs)
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

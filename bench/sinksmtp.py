#!/usr/bin/python3
# bench/sinksmtp.py — the second server of bench/send: Debian's aiosmtpd
# (python3-aiosmtpd 1.4) on 127.0.0.1 with implicit TLS, AUTH PLAIN and
# LOGIN against one user, every accepted message stored as one file in a
# Maildir (tmp/, then renamed into new/; no fsync).  This is the kind of
# server the peer figures (msmtp, curl, busybox) were measured
# against; unlike Exim it takes a message on one connection as fast as
# the client gives it.  aiosmtpd reads commands in order from the
# stream, so it serves pipelined commands correctly, but does not list
# PIPELINING in its EHLO reply; this server lists it (as every provider
# does) unless PIPELINING is 0.
#
#   sinksmtp.py PORT CHAIN KEY USER PASS MAILDIR PIDFILE [PIPELINING]
#
# Runs until SIGTERM.  Writes PIDFILE once it listens.
import asyncio
import logging
import os
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    port, chain, key, user, pw, maildir, pidfile = sys.argv[1:8]
    pipelining = sys.argv[8:9] != ["0"]
    # AUTH over implicit TLS looks like AUTH without TLS to aiosmtpd
    # (it knows only STARTTLS): quiet its warnings about that
    warnings.filterwarnings("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    want = (user.encode(), pw.encode())
    seq = [0]

    class Store:
        async def handle_EHLO(self, server, session, envelope, hostname,
                              responses):
            session.host_name = hostname
            if pipelining:
                responses.insert(1, "250-PIPELINING")
            return responses

        async def handle_DATA(self, server, session, envelope):
            seq[0] += 1
            name = "%d.%d_%d.sink" % (time.time(), os.getpid(), seq[0])
            tmp = os.path.join(maildir, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(envelope.original_content or envelope.content)
            os.rename(tmp, os.path.join(maildir, "new", name))
            return "250 2.0.0 stored as " + name

    def auth(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and
              (data.login, data.password) == want)
        return AuthResult(success=ok, handled=False)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)

    def factory():
        return SMTP(Store(), data_size_limit=100 * 1024 * 1024,
                    enable_SMTPUTF8=True, hostname="sink.tern.test",
                    auth_require_tls=False, authenticator=auth,
                    auth_required=True, timeout=60)

    loop = asyncio.new_event_loop()
    srv = loop.run_until_complete(
        loop.create_server(factory, "127.0.0.1", int(port), ssl=ctx))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    with open(pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    try:
        loop.run_forever()
    finally:
        srv.close()


main()

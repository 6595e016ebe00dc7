#!/usr/bin/python3
# bench/smtpfloor.py — the server's floor for bench/send: every message of
# DIR over one implicit-TLS connection, as fast as SMTP allows.
#
#   smtpfloor.py HOST PORT CAFILE USER PASS RCPT DIR
#
# EHLO, AUTH PLAIN, then per message MAIL, RCPT and DATA in one write
# (PIPELINING), the 354, the dot-stuffed CRLF body and its ".", and at
# once the next message's commands: the 250 to the data is read with the
# next batch's replies (RFC 2920 lets commands follow the end of data).
# Exits 0 only if every reply was the expected one.  Bounded: 60 s of
# silence ends it.
import base64
import os
import socket
import ssl
import sys


def main():
    host, port, ca, user, pw, rcpt, d = sys.argv[1:8]
    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection((host, int(port)), timeout=60)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname=host)
    f = s.makefile("rb")

    def reply(want):
        while True:
            line = f.readline(1024)
            if not line or not line.startswith(want.encode()):
                sys.exit("smtpfloor: wanted %s, got %r" % (want, line))
            if line[3:4] != b"-":
                return

    reply("220")
    s.sendall(b"EHLO floor.test\r\n")
    reply("250")
    tok = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode())
    s.sendall(b"AUTH PLAIN " + tok + b"\r\n")
    reply("235")
    pending = 0
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as fh:
            body = fh.read()
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        if body.startswith(b"."):
            body = b"." + body
        body = body.replace(b"\r\n.", b"\r\n..")
        s.sendall(b"MAIL FROM:<alice@localhost>\r\nRCPT TO:<%s>\r\n"
                  b"DATA\r\n" % rcpt.encode())
        if pending:
            reply("250")
        reply("250")
        reply("250")
        reply("354")
        s.sendall(body + b".\r\n")
        pending = 1
    s.sendall(b"QUIT\r\n")
    if pending:
        reply("250")
    reply("221")


main()

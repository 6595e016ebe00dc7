#!/usr/bin/python3
"""genmail.py DIR N SIZE -- write N deterministic messages of exactly SIZE
bytes each (LF line ends) to DIR/m00001.eml ... for bench/fetch.

Each message has ordinary headers (a folded one, an encoded Subject) and a
text body of lines up to 76 bytes; some lines start with "." or are "."
alone, so that every client has to dot-stuff and unstuff.  Messages are
streamed to disk in blocks, so a 50 MB message costs no 50 MB of memory.
"""
import os
import sys

WORDS = ("router mail fetch queue relay static binary small tls pop3 smtp "
         "maildir fsync rename poll timeout deadline ledger uidl header "
         "body line dot stuffing musl bearssl openwrt flash memory").split()


def body_lines(seed):
    """An endless supply of body lines, the same for the same seed."""
    x = seed * 2654435761 % 4294967296 or 1
    k = 0
    while True:
        k += 1
        if k % 97 == 0:
            yield b"."
            continue
        x = (x * 1103515245 + 12345) % 2147483648
        n = 6 + x % 8
        words = []
        for _ in range(n):
            x = (x * 1103515245 + 12345) % 2147483648
            words.append(WORDS[x % len(WORDS)])
        line = " ".join(words)[:76]
        if k % 13 == 0:
            line = "." + line[:75]
        yield line.encode()


def write_msg(path, i, size):
    head = (
        "Return-Path: <sender%d@example.org>\n"
        "Received: from mx.example.org (mx.example.org [192.0.2.1])\n"
        "\tby pop.example.net with ESMTPS id %08X\n"
        "\tfor <alice@example.net>; Mon, 2 Jan 2006 15:04:05 +0000\n"
        "From: Sender %d <sender%d@example.org>\n"
        "To: Alice <alice@example.net>\n"
        "Subject: =?UTF-8?Q?bench_message_=E2=84=96_%d?=\n"
        "Date: Mon, 2 Jan 2006 15:04:05 +0000\n"
        "Message-ID: <bench.%d@example.org>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n" % (i, i * 2654435761 % 4294967296, i, i, i, i)).encode()
    left = size - len(head)
    if left < 2:
        sys.exit("genmail.py: SIZE too small for the headers")
    with open(path, "wb") as f:
        f.write(head)
        buf = []
        blen = 0
        for line in body_lines(i):
            # the last line fills the message up to SIZE exactly
            if left - (len(line) + 1) < 2:
                buf.append(b"x" * (left - 1) + b"\n")
                break
            buf.append(line + b"\n")
            left -= len(line) + 1
            blen += len(line) + 1
            if blen > 1 << 20:
                f.write(b"".join(buf))
                buf, blen = [], 0
        f.write(b"".join(buf))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: genmail.py DIR N SIZE")
    d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(d, exist_ok=True)
    for i in range(1, n + 1):
        write_msg(os.path.join(d, "m%05d.eml" % i), i, size)


if __name__ == "__main__":
    main()

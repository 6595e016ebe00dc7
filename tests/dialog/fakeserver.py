#!/usr/bin/python3
"""fakeserver.py -- a scripted fake mail server for dialog tests.

usage: fakeserver.py --script FILE [--port 0] [--portfile F] [--log F]
                     [--raw F] [--certdir DIR] [--timeout 30]
                     [--step-timeout 10]

Binds 127.0.0.1 only, writes the port to --portfile once it listens,
plays the script (format: tests/dialog/README.md) against the clients that
connect, logs every byte in both directions (escaped) to --log and the
exact bytes received to --raw, and exits 0 when every expectation held,
1 with the reason on stderr when one did not, 2 on a bad script or usage.
Standard library only.
"""

import argparse
import os
import re
import signal
import socket
import ssl
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on request

CHUNK = 65536
MAX_LINE = 65536           # expect-re reads at most this much for one line
STALL_MAX = 30.0
DRAIN_SECS = 2.0           # close: wait this long for the client's FIN

TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3,
}


class ScriptError(Exception):
    """The script itself is wrong (exit 2)."""


class Fail(Exception):
    """An expectation did not hold (exit 1)."""


# ---------------------------------------------------------------- parsing

ESC = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\",
       '"': b'"'}


def unescape(s, keep_unknown):
    """C-like escapes to bytes; keep_unknown passes \\X through (regexes)."""
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        if i + 1 >= len(s):
            raise ScriptError("backslash at end of string")
        e = s[i + 1]
        if e in ESC:
            out += ESC[e]
            i += 2
        elif e == "x":
            h = s[i + 2:i + 4]
            if not re.fullmatch(r"[0-9A-Fa-f]{2}", h):
                raise ScriptError("bad \\x escape: \\x%s" % h)
            out.append(int(h, 16))
            i += 4
        elif keep_unknown:
            out += ("\\" + e).encode("utf-8")
            i += 2
        else:
            raise ScriptError("unknown escape \\%s" % e)
    return bytes(out)


def tokenize(line):
    """Split a script line into ('word', str) and ('str', raw str) tokens."""
    toks = []
    i = 0
    while i < len(line):
        c = line[i]
        if c.isspace():
            i += 1
        elif c == "#":
            break
        elif c == '"':
            j = i + 1
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            if j >= len(line):
                raise ScriptError("unterminated string")
            toks.append(("str", line[i + 1:j]))
            i = j + 1
        else:
            j = i
            while j < len(line) and not line[j].isspace():
                j += 1
            toks.append(("word", line[i:j]))
            i = j
    return toks


class Step:
    def __init__(self, lineno, text, cmd):
        self.lineno, self.text, self.cmd = lineno, text, cmd
        self.data = None        # bytes argument
        self.regex = None
        self.num = None
        self.path = None
        self.mode = None        # plain | tls (listen/accept)
        self.opts = {}

    def where(self):
        return "line %d (%s)" % (self.lineno, self.text)


TLS_OPTS = ("cert", "min", "max", "ciphers")


def parse_opts(step, words, allowed):
    for w in words:
        if "=" not in w:
            raise ScriptError("expected key=value, got %r" % w)
        k, v = w.split("=", 1)
        if k not in allowed:
            raise ScriptError("unknown option %r" % k)
        if k in ("min", "max") and v.replace("TLSv", "") not in TLS_VERSIONS:
            raise ScriptError("bad TLS version %r (1.0 1.1 1.2 1.3)" % v)
        step.opts[k] = v


def parse_script(path):
    base = os.path.dirname(os.path.abspath(path))
    steps = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            toks = tokenize(text)
            if not toks:
                continue
            if toks[0][0] != "word":
                raise ScriptError("line must start with a command")
            cmd = toks[0][1]
            args = toks[1:]
            st = Step(n, text, cmd)
            strs = [v for t, v in args if t == "str"]
            words = [v for t, v in args if t == "word"]

            def need(nstr, nword_min, nword_max):
                if len(strs) != nstr or not (
                        nword_min <= len(words) <= nword_max):
                    raise ScriptError("wrong arguments for %s" % cmd)

            if cmd in ("listen", "accept"):
                need(0, 0 if cmd == "accept" else 1, 99)
                if words and words[0] in ("plain", "tls"):
                    st.mode = words.pop(0)
                elif cmd == "listen":
                    raise ScriptError("listen plain|tls [options]")
                parse_opts(st, words, TLS_OPTS)
            elif cmd in ("send", "expect"):
                need(1, 0, 0)
                st.data = unescape(strs[0], False)
            elif cmd == "expect-re":
                need(1, 0, 0)
                try:
                    st.regex = re.compile(unescape(strs[0], True))
                except re.error as e:
                    raise ScriptError("bad regex: %s" % e)
            elif cmd == "expect-until":
                need(1, 0, 2)
                st.data = unescape(strs[0], False)
                if not st.data:
                    raise ScriptError("expect-until needs a non-empty string")
                parse_opts(st, words, ("save", "max"))
                if "save" in st.opts:
                    st.opts["save"] = os.path.join(base, st.opts["save"])
                st.num = int(st.opts.get("max", 256 << 20))
            elif cmd == "send-file":
                if len(args) != 1:
                    raise ScriptError("send-file PATH")
                st.path = os.path.join(base, args[0][1])
                if not os.path.isfile(st.path):
                    raise ScriptError("no such file %s" % st.path)
            elif cmd == "send-gen":
                need(1, 1, 1)
                st.num = int(words[0])
                st.data = unescape(strs[0], False)
                if st.num < 0 or not st.data:
                    raise ScriptError("send-gen N \"PATTERN\"")
            elif cmd in ("starttls", "send-raw-then-starttls"):
                need(1 if cmd != "starttls" else 0, 0, 99)
                if strs:
                    st.data = unescape(strs[0], False)
                parse_opts(st, words, TLS_OPTS)
            elif cmd == "expect-sni":
                need(0, 1, 1)
                st.data = words[0]
            elif cmd in ("sleep", "stall"):
                need(0, 1 if cmd == "sleep" else 0, 1)
                st.num = float(words[0]) if words else STALL_MAX
                if st.num < 0:
                    raise ScriptError("negative time")
            elif cmd in ("close", "close-tls", "reset", "expect-close"):
                need(0, 0, 0)
            else:
                raise ScriptError("unknown command %r" % cmd)
        except (ScriptError, ValueError) as e:
            raise ScriptError("%s:%d: %s" % (path, n, e))
        steps.append(st)
    if not steps or steps[0].cmd != "listen":
        raise ScriptError("%s: the first step must be listen" % path)
    if any(s.cmd == "listen" for s in steps[1:]):
        raise ScriptError("%s: listen only once; use accept" % path)
    return steps


# ---------------------------------------------------------------- logging

def escape(b):
    out = []
    for c in b:
        if c == 0x0D:
            out.append("\\r")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x5C:
            out.append("\\\\")
        elif c == 0x22:
            out.append('\\"')
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


class Log:
    """C: client bytes, S: server bytes, * events; split after each LF."""

    def __init__(self, path, raw):
        self.f = open(path, "w", encoding="ascii") if path else None
        self.raw = open(raw, "wb") if raw else None
        self.part = {"C": b"", "S": b""}

    def _flush(self, who):
        if self.part[who] and self.f:
            self.f.write("%s: %s\n" % (who, escape(self.part[who])))
        self.part[who] = b""

    def data(self, who, b):
        if who == "C" and self.raw:
            self.raw.write(b)
            self.raw.flush()
        other = "S" if who == "C" else "C"
        self._flush(other)
        buf = self.part[who] + b
        while True:
            i = buf.find(b"\n")
            if i < 0:
                break
            if self.f:
                self.f.write("%s: %s\n" % (who, escape(buf[:i + 1])))
            buf = buf[i + 1:]
        self.part[who] = buf
        if self.f:
            self.f.flush()

    def event(self, msg):
        self._flush("C")
        self._flush("S")
        if self.f:
            self.f.write("* %s\n" % msg)
            self.f.flush()


# ---------------------------------------------------------------- server

class Gone(Exception):
    pass


class Conn:
    def __init__(self, srv, sock, peer, num):
        self.srv, self.sock, self.num = srv, sock, num
        self.tls = False
        self.buf = b""
        self.gone = None        # why the client is gone, or None
        self.sni = None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        srv.log.event("conn %d accepted from %s:%d" % (num, peer[0], peer[1]))

    # time left for one blocking step
    def left(self, limit=None):
        now = time.monotonic()
        t = min(self.srv.deadline - now,
                limit if limit is not None else self.srv.step_timeout)
        if t <= 0:
            raise Fail("timed out")
        return t

    def lost(self, why):
        if self.gone is None:
            self.gone = why
            self.srv.log.event("client gone: %s" % why)

    def check(self):
        if self.gone is not None:
            raise Fail("client is gone (%s)" % self.gone)

    def recv(self, limit=None):
        """Some bytes, or b'' at end of stream (then self.gone is set)."""
        self.check()
        self.sock.settimeout(self.left(limit))
        try:
            b = self.sock.recv(CHUNK)
        except socket.timeout:
            raise
        except ssl.SSLZeroReturnError:
            b = b""
            self.lost("eof (close_notify)")
        except ssl.SSLEOFError:
            b = b""
            self.lost("eof (no close_notify)")
        except ssl.SSLError as e:
            b = b""
            if getattr(e, "reason", "") == "UNEXPECTED_EOF_WHILE_READING":
                self.lost("eof (no close_notify)")
            else:
                self.lost("receive error: %s" % e)
        except OSError as e:
            b = b""
            self.lost("receive error: %s" % e)
        if b:
            self.srv.log.data("C", b)
        elif self.gone is None:
            self.lost("eof" if not self.tls else "eof (close_notify)")
        return b

    def send(self, b, quiet=False):
        """Send all of b; a client that went away only marks gone."""
        self.check()
        if not quiet:
            self.srv.log.data("S", b)
        view = memoryview(b)
        while view:
            self.sock.settimeout(self.left())
            try:
                n = self.sock.send(view)
            except socket.timeout:
                raise Fail("timed out sending (client does not read)")
            except (ssl.SSLError, OSError) as e:
                self.lost("send failed: %s" % e)
                return False
            view = view[n:]
        return True

    def handshake(self, opts):
        ctx = self.srv.context(opts)
        self.srv.sni = None
        try:
            s = ctx.wrap_socket(self.sock, server_side=True,
                                do_handshake_on_connect=False,
                                suppress_ragged_eofs=False)
        except (ssl.SSLError, OSError) as e:
            self.lost("TLS setup failed: %s" % e)
            return
        self.sock = s
        self.tls = True
        s.settimeout(self.left())
        try:
            s.do_handshake()
        except socket.timeout:
            raise Fail("timed out in the TLS handshake")
        except (ssl.SSLError, OSError) as e:
            self.lost("TLS handshake failed: %s" % e)
            return
        self.sni = self.srv.sni
        self.srv.log.event("tls %s %s sni=%s" % (
            s.version(), s.cipher()[0], self.sni or "none"))

    def close(self, how):
        """how: close (FIN, no close_notify), close-tls, reset."""
        if self.sock is None:
            return
        s = self.sock
        self.sock = None
        if self.buf:
            self.srv.log.event("unread client bytes: %s" % escape(self.buf))
        try:
            if how == "reset":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\1\0\0\0\0\0\0\0")
                s.close()
                self.srv.log.event("reset")
                return
            if how == "close-tls" and self.tls and self.gone is None:
                s.settimeout(min(DRAIN_SECS,
                                 max(0.1, self.srv.deadline -
                                     time.monotonic())))
                try:
                    s = s.unwrap()
                    self.srv.log.event("close_notify sent and received")
                except (ssl.SSLError, OSError) as e:
                    self.srv.log.event("close_notify sent (%s)" % e)
            elif self.tls:
                # drop the TLS layer without a close_notify
                s = socket.socket(fileno=s.detach())
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            # read until the client closes too, so that unread bytes do
            # not turn our FIN into a RST that eats our last reply
            end = time.monotonic() + DRAIN_SECS
            while self.gone is None:
                t = min(end, self.srv.deadline) - time.monotonic()
                if t <= 0:
                    break
                s.settimeout(t)
                try:
                    b = s.recv(CHUNK)
                except socket.timeout:
                    break
                except OSError:
                    break
                if not b:
                    break
                self.srv.log.data("C", b)
            s.close()
            self.srv.log.event("closed")
        except OSError as e:
            self.srv.log.event("close: %s" % e)


class Server:
    def __init__(self, args, steps):
        self.args = args
        self.steps = steps
        self.log = Log(args.log, args.raw)
        self.deadline = time.monotonic() + args.timeout
        self.step_timeout = args.step_timeout
        self.conn = None
        self.nconn = 0
        self.sni = None
        self.mode = "plain"
        self.mode_opts = {}
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", args.port))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]

    def context(self, opts):
        name = opts.get("cert", "srv-rsa")
        d = self.args.certdir
        chain = os.path.join(d, name + ".chain.pem")
        key = os.path.join(d, name + ".key")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # tell a close_notify from a bare TCP close (the log says which)
        ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        # SECLEVEL 0: the weak-key and old-protocol cases must load at all
        ctx.set_ciphers(opts.get("ciphers", "DEFAULT:@SECLEVEL=0"))
        if "min" in opts:
            ctx.minimum_version = TLS_VERSIONS[opts["min"].replace("TLSv",
                                                                   "")]
        if "max" in opts:
            ctx.maximum_version = TLS_VERSIONS[opts["max"].replace("TLSv",
                                                                   "")]
        try:
            ctx.load_cert_chain(chain, key)
        except (OSError, ssl.SSLError) as e:
            raise ScriptError("cannot load %s / %s: %s (run "
                              "tests/real/pki.sh %s)" % (chain, key, e, d))

        def sni_cb(sslobj, servername, c):
            self.sni = servername
        ctx.sni_callback = sni_cb
        return ctx

    def accept(self):
        self.lsock.settimeout(max(0.01, self.deadline - time.monotonic()))
        try:
            s, peer = self.lsock.accept()
        except socket.timeout:
            raise Fail("no client connected")
        self.nconn += 1
        self.conn = Conn(self, s, peer, self.nconn)
        if self.mode == "tls":
            self.conn.handshake(self.mode_opts)

    def end_conn(self):
        if self.conn is not None:
            self.conn.close("close-tls" if self.conn.tls else "close")
            self.conn = None

    def run(self):
        for st in self.steps:
            self.cur = st
            self.step(st)
        self.end_conn()

    def step(self, st):
        c = self.conn
        cmd = st.cmd
        if c is None and cmd not in ("listen", "accept", "sleep"):
            raise ScriptError("%s: no connection (closed; use accept)"
                              % st.where())
        if cmd in ("listen", "accept"):
            if cmd == "accept":
                self.end_conn()
            if st.mode:
                self.mode = st.mode
                self.mode_opts = st.opts
            self.accept()
        elif cmd == "send":
            c.send(st.data)
        elif cmd == "send-file":
            self.log.event("send-file %s (%d bytes)"
                           % (st.path, os.path.getsize(st.path)))
            with open(st.path, "rb") as f:
                while True:
                    b = f.read(CHUNK)
                    if not b or not c.send(b, quiet=True):
                        break
        elif cmd == "send-gen":
            self.log.event("send-gen %d bytes of %s"
                           % (st.num, escape(st.data)))
            block = st.data * (CHUNK // len(st.data) + 1)
            left = st.num
            while left > 0:
                n = min(left, len(block))
                if not c.send(block[:n], quiet=True):
                    break
                left -= n
        elif cmd == "expect":
            self.expect(c, st.data)
        elif cmd == "expect-re":
            line = self.readline(c)
            if not st.regex.search(line):
                raise Fail("got \"%s\", which does not match"
                           % escape(line))
            c.buf = c.buf[len(line):]
        elif cmd == "expect-until":
            self.expect_until(c, st)
        elif cmd == "expect-close":
            self.expect_close(c)
        elif cmd == "expect-sni":
            c.check()
            want = None if st.data == "none" else st.data
            if c.sni != want:
                raise Fail("SNI was %s, want %s" % (c.sni or "none",
                                                    st.data))
        elif cmd in ("starttls", "send-raw-then-starttls"):
            c.check()
            if c.buf:
                raise Fail("client sent \"%s\" before the TLS handshake"
                           % escape(c.buf))
            if c.tls:
                raise ScriptError("starttls on a TLS connection")
            if st.data is not None and not c.send(st.data):
                return
            c.handshake(st.opts)
        elif cmd == "sleep":
            t = min(st.num, self.deadline - time.monotonic())
            if t > 0:
                time.sleep(t)
        elif cmd == "stall":
            self.stall(c, st.num)
        elif cmd in ("close", "close-tls", "reset"):
            c.close(cmd)
            self.conn = None

    def expect(self, c, want):
        while True:
            n = min(len(c.buf), len(want))
            if c.buf[:n] != want[:n]:
                self.complete_line(c)
                got = c.buf.split(b"\n", 1)[0]
                raise Fail("got \"%s\", want \"%s\""
                           % (escape(got + (b"\n" if b"\n" in c.buf
                                            else b"")), escape(want)))
            if len(c.buf) >= len(want):
                c.buf = c.buf[len(want):]
                return
            try:
                b = c.recv()
            except socket.timeout:
                raise Fail("timed out waiting for \"%s\", got \"%s\""
                           % (escape(want), escape(c.buf)))
            if not b:
                raise Fail("client closed (%s) while expecting \"%s\", "
                           "got \"%s\"" % (c.gone, escape(want),
                                           escape(c.buf)))
            c.buf += b

    def complete_line(self, c):
        """After a mismatch, wait briefly for the rest of the line."""
        end = time.monotonic() + 0.3
        while b"\n" not in c.buf and c.gone is None:
            t = end - time.monotonic()
            if t <= 0:
                break
            try:
                b = c.recv(t)
            except socket.timeout:
                break
            except Fail:
                break
            c.buf += b

    def readline(self, c):
        while True:
            i = c.buf.find(b"\n")
            if i >= 0:
                return c.buf[:i + 1]
            if len(c.buf) > MAX_LINE:
                raise Fail("line longer than %d bytes" % MAX_LINE)
            try:
                b = c.recv()
            except socket.timeout:
                raise Fail("timed out waiting for a line, got \"%s\""
                           % escape(c.buf))
            if not b:
                raise Fail("client closed (%s) while expecting a line, "
                           "got \"%s\"" % (c.gone, escape(c.buf)))
            c.buf += b

    def expect_until(self, c, st):
        term = st.data
        out = open(st.opts["save"], "wb") if "save" in st.opts else None
        total = 0
        try:
            while True:
                i = c.buf.find(term)
                if i >= 0:
                    i += len(term)
                    if out:
                        out.write(c.buf[:i])
                    total += i
                    c.buf = c.buf[i:]
                    break
                # keep a tail that may hold the start of the terminator
                keep = len(term) - 1
                if len(c.buf) > keep:
                    cut = len(c.buf) - keep
                    if out:
                        out.write(c.buf[:cut])
                    total += cut
                    c.buf = c.buf[cut:]
                if total > st.num:
                    raise Fail("more than %d bytes without \"%s\""
                               % (st.num, escape(term)))
                try:
                    b = c.recv()
                except socket.timeout:
                    raise Fail("timed out waiting for \"%s\" after %d "
                               "bytes" % (escape(term), total))
                if not b:
                    raise Fail("client closed (%s) after %d bytes, before "
                               "\"%s\"" % (c.gone, total, escape(term)))
                c.buf += b
        finally:
            if out:
                out.close()
        self.log.event("expect-until: %d bytes" % total)

    def expect_close(self, c):
        if c.gone is not None:
            return
        if c.buf:
            raise Fail("client sent \"%s\", want it to close"
                       % escape(c.buf))
        try:
            b = c.recv()
        except socket.timeout:
            raise Fail("client did not close")
        if b:
            raise Fail("client sent \"%s\", want it to close" % escape(b))

    def stall(self, c, secs):
        c.check()
        start = time.monotonic()
        end = start + secs
        while True:
            t = end - time.monotonic()
            if t <= 0:
                raise Fail("client still connected after stalling %gs"
                           % secs)
            try:
                b = c.recv(t)
            except socket.timeout:
                continue
            except Fail:
                raise Fail("client still connected after stalling %gs "
                           "(overall timeout)" % secs)
            if not b:
                self.log.event("client closed after %.1fs of stall"
                               % (time.monotonic() - start))
                return
            c.buf += b


def main():
    ap = argparse.ArgumentParser(description="scripted fake mail server")
    ap.add_argument("--script", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--portfile")
    ap.add_argument("--log")
    ap.add_argument("--raw", help="exact bytes received, all connections")
    ap.add_argument("--certdir", default=".")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--step-timeout", type=float, default=10.0)
    args = ap.parse_args()

    def fatal(code, msg):
        sys.stderr.write("fakeserver: %s\n" % msg)
        sys.stderr.flush()
        os._exit(code)

    # a last resort: nothing may keep this process alive past the deadline
    signal.signal(signal.SIGALRM, lambda s, f: fatal(
        1, "FAIL: overall timeout of %gs exceeded" % args.timeout))
    signal.alarm(int(args.timeout) + 5)

    try:
        steps = parse_script(args.script)
    except (OSError, ScriptError) as e:
        fatal(2, "bad script: %s" % e)
    try:
        srv = Server(args, steps)
    except OSError as e:
        fatal(2, "cannot listen on 127.0.0.1:%d: %s" % (args.port, e))
    srv.log.event("fakeserver script %s port %d" % (args.script, srv.port))
    if args.portfile:
        tmp = args.portfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.port)
        os.rename(tmp, args.portfile)
    srv.cur = None
    try:
        srv.run()
    except Fail as e:
        where = srv.cur.where() if srv.cur else "start"
        srv.log.event("FAIL at %s: %s" % (where, e))
        if srv.conn:
            srv.conn.close("reset" if srv.conn.gone is None else "close")
        fatal(1, "FAIL at %s: %s" % (where, e))
    except ScriptError as e:
        fatal(2, "bad script: %s" % e)
    srv.log.event("PASS")
    sys.exit(0)


if __name__ == "__main__":
    main()

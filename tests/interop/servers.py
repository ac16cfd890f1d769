"""Starts quorumd and Apache ZooKeeper 3.8 side by side for the interop tests and benches.

Each server gets its own temp dir under /tmp/flq-*, a loopback port in 21800-21999 and is
stopped by PID when the `with` block ends, also when a test fails.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFZK = os.path.join(HERE, "refzk.sh")
PYTHON = "/usr/bin/python3"  # Debian's, where python3-kazoo is installed


_handed_out = set()


def free_port(lo=21820, hi=21999):
    """A loopback port in our range nobody listens on (checked by binding it), never one this
    process was given before: a port handed out is not bound until its server starts."""
    import random
    ports = [p for p in range(lo, hi) if p not in _handed_out]
    random.SystemRandom().shuffle(ports)
    for p in ports:
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
            _handed_out.add(p)
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in %d-%d" % (lo, hi))


def four_letter(port, word, timeout=5.0, host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode())
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out.decode()
            out += d


def wait_ready(port, proc, deadline_s=60.0, what="server"):
    end = time.time() + deadline_s
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s before serving on port %d" % (what, proc.returncode, port))
        try:
            if four_letter(port, "ruok", 1.0) == "imok":
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("%s not serving on port %d after %.0fs" % (what, port, deadline_s))


class Server:
    """One running server. kind is 'quorumd' or 'zookeeper'."""

    def __init__(self, kind, quorumd_bin=None, extra_cfg=(), data_dir=None, port=None, keep_dir=False):
        self.kind = kind
        self.quorumd_bin = quorumd_bin
        self.extra_cfg = list(extra_cfg)
        self.dir = tempfile.mkdtemp(prefix="flq-%s-" % kind, dir="/tmp")
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.port = port or free_port()
        self.proc = None
        self.keep_dir = keep_dir
        self.log_path = os.path.join(self.dir, "server.log")

    def start(self, wait=True):
        if self.kind == "zookeeper":
            self.proc = subprocess.Popen([REFZK, self.dir, str(self.port)] + self.extra_cfg + ["dataDir=" + self.data_dir],
                                         stdout=open(os.path.join(self.dir, "stdout"), "w"), stderr=subprocess.STDOUT)
            self.log_path = os.path.join(self.dir, "zookeeper.log")
        else:
            cfg = os.path.join(self.dir, "zoo.cfg")
            with open(cfg, "w") as f:
                f.write("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                        "4lw.commands.whitelist=*\nadmin.enableServer=false\n" % (self.data_dir, self.port))
                for line in self.extra_cfg:
                    f.write(line + "\n")
            env = dict(os.environ, QUORUMD_LOG_FILE=self.log_path)
            self.proc = subprocess.Popen([self.quorumd_bin, cfg], env=env, stdout=subprocess.DEVNULL,
                                         stderr=open(os.path.join(self.dir, "stderr"), "w"))
        if wait:
            wait_ready(self.port, self.proc, what=self.kind)
        return self

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.kill(signal.SIGTERM)

    def log(self):
        return read_log(self.log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        if exc[0] is not None:
            print("---- %s log (%s) tail ----" % (self.kind, self.log_path))
            print("\n".join(self.log().splitlines()[-40:]))
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


def read_log(path):
    """A server's log as text; empty when it has none yet."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def quorumd_bin_from_args(argv):
    for i, a in enumerate(argv):
        if a == "--quorumd":
            return argv[i + 1]
    env = os.environ.get("QUORUMD_BINARY")
    if env:
        return env
    guess = os.path.join(HERE, "..", "..", "build", "coord", "quorumd")
    return os.path.abspath(guess)

#!/usr/bin/env python3
"""Disk faults on a real file system (issue #7; needs root for mount).

The in-process tests (server/tests/api/disk_faults.rs) use SQLite's own
limits; this runs the release server over a small tmpfs and checks:

1. disk full at run time: pushes and image uploads until the tmpfs is
   full; each refused write is a 507 JSON error with reason `disk_full`
   and an ERROR line in the server log; reads still work; nothing of a
   refused write is stored; after the tmpfs grows (remount size=...), the
   same requests succeed without a restart.
2. a read-only folder at run time (a read-only bind mount over the user's
   `profiles/`: Linux refuses to remount a file system read-only while the
   server holds files open for writing, so a new file is where a running
   server meets read-only storage): creating a profile is 503 `read_only`
   with an ERROR line and leaves nothing behind, the open profile keeps
   working, and once writable the same request succeeds without a restart.
3. a read-only data directory at start: the server refuses to start and
   says so (exit code 1, `read_only` in the message).

Usage: scripts/diskfault/diskfault.py --server target/release/peek-server
"""

import argparse
import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*cmd):
    subprocess.run(cmd, check=True)


def unmount(path):
    """umount, retried: a request still finishing may hold the mount busy."""
    for _ in range(50):
        if subprocess.run(["umount", path], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", path], check=True)


class Server:
    def __init__(self, binary, data, log_path):
        self.binary, self.data, self.log_path = binary, data, log_path
        self.port = free_port()
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--data-dir", self.data, "serve", "--listen",
             f"127.0.0.1:{self.port}", "--no-startup-backup"],
            stdout=log, stderr=log, env={**os.environ, "NO_COLOR": "1", "RUST_LOG": "warn"})
        for _ in range(300):
            try:
                if self.call("GET", "/", None, None)[0] == 200:
                    return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    def call(self, method, path, key, body):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw), dict(r.getheaders())
        except ValueError:
            return r.status, raw, dict(r.getheaders())


def errors_in_log(path):
    with open(path, "rb") as f:
        return [l.decode(errors="replace") for l in f if b"ERROR" in l]


def expect(cond, msg):
    if not cond:
        raise SystemExit(f"FAIL: {msg}")
    print(f"ok: {msg}", flush=True)


def disk_full(binary, work):
    data = os.path.join(work, "full")
    os.makedirs(data)
    sh("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", data)
    try:
        sh(binary, "--data-dir", data, "user", "create", "u", "--key", "full-key")
        log = os.path.join(work, "full.log")
        srv = Server(binary, data, log)
        srv.start()
        try:
            n, refused = 0, None
            while n < 1000:
                st, body, hdr = srv.call("POST", "/items", "full-key",
                                         {"type": "text", "content": f"{n} " + "x" * 60000, "sync_id": f"s{n}"})
                if st != 200:
                    refused = (st, body, hdr)
                    break
                n += 1
            expect(refused is not None, f"the 3 MiB tmpfs filled after {n} pushes of 60 KB")
            st, body, hdr = refused
            expect(st == 507 and body.get("reason") == "disk_full",
                   f"a push on a full disk is 507 disk_full: {body}")
            expect(hdr.get("retry-after") == "5", "with Retry-After")
            img = base64.b64encode(b"\x89PNG" + os.urandom(200_000)).decode()
            st, body, _ = srv.call("POST", "/images", "full-key",
                                   {"content": img, "filename": "a.png", "mime": "image/png"})
            expect(st == 507 and body.get("reason") == "disk_full", f"an image upload too: {st} {body}")
            st, body, _ = srv.call("GET", "/items", "full-key", None)
            expect(st == 200 and len(body["items"]) == n, f"reads still work ({n} items, nothing of the refused)")
            lines = errors_in_log(log)
            expect(any("disk_full" in l for l in lines), f"the log has ERROR lines naming disk_full ({len(lines)})")
            sh("mount", "-o", "remount,size=64m", data)
            st, body, _ = srv.call("POST", "/items", "full-key",
                                   {"type": "text", "content": f"{n} " + "x" * 60000, "sync_id": f"s{n}"})
            expect(st == 200, f"after the disk grows, the same push succeeds: {body}")
            st, body, _ = srv.call("POST", "/images", "full-key",
                                   {"content": img, "filename": "a.png", "mime": "image/png"})
            expect(st == 200, "and the same image upload")
            st, body, _ = srv.call("GET", "/items", "full-key", None)
            expect(len(body["items"]) == n + 2, "every acknowledged write is there")
        finally:
            srv.stop()
        for root, _, files in os.walk(data):
            for f in files:
                if f.endswith((".sqlite", ".db")):
                    out = subprocess.run(["python3", "-c",
                                          "import sqlite3,sys;print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
                                          os.path.join(root, f)], capture_output=True, text=True).stdout.strip()
                    expect(out == "ok", f"integrity_check {os.path.relpath(os.path.join(root, f), data)}")
    finally:
        unmount(data)


def read_only_profiles_folder(binary, work):
    data = os.path.join(work, "ro")
    sh(binary, "--data-dir", data, "user", "create", "u", "--key", "ro-key")
    log = os.path.join(work, "ro.log")
    srv = Server(binary, data, log)
    srv.start()
    folder = os.path.join(data, "u", "profiles")
    mounted = False
    try:
        st, body, _ = srv.call("POST", "/items", "ro-key", {"type": "text", "content": "before", "sync_id": "b"})
        expect(st == 200, "a first push creates the default profile")
        sh("mount", "--bind", folder, folder)
        mounted = True
        sh("mount", "-o", "remount,ro,bind", folder)
        st, body, _ = srv.call("POST", "/profiles", "ro-key", {"name": "new"})
        expect(st == 503 and body.get("reason") == "read_only",
               f"creating a profile in a read-only folder is 503 read_only: {body}")
        expect(any("read_only" in l for l in errors_in_log(log)), "the log has an ERROR line naming read_only")
        st, body, _ = srv.call("POST", "/items", "ro-key", {"type": "text", "content": "during", "sync_id": "d"})
        expect(st == 200, "the open profile keeps working")
        unmount(folder)
        mounted = False
        st, body, _ = srv.call("POST", "/profiles", "ro-key", {"name": "new"})
        expect(st == 200, f"once writable again, the same request succeeds without a restart: {body}")
        st, body, _ = srv.call("GET", "/profiles", "ro-key", None)
        expect(sorted(p["slug"] for p in body["profiles"]) == ["default", "new"],
               "and the refused attempt left no half-made profile behind")
    finally:
        srv.stop()
        if mounted:
            unmount(folder)


def read_only_at_start(binary, work):
    data = os.path.join(work, "rostart")
    os.makedirs(data)
    sh("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", data)
    try:
        sh(binary, "--data-dir", data, "user", "create", "u", "--key", "k")
        sh("mount", "-o", "remount,ro", data)
        out = subprocess.run([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{free_port()}",
                              "--no-startup-backup"], capture_output=True, text=True, timeout=30,
                             env={**os.environ, "NO_COLOR": "1"})
        msg = (out.stderr + out.stdout).strip().splitlines()
        expect(out.returncode == 1 and any("read_only" in l for l in msg),
               f"on a read-only data directory the server refuses to start: {msg[-1] if msg else ''}")
    finally:
        unmount(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="target/release/peek-server")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("diskfault: needs root (mount); skipped", file=sys.stderr)
        sys.exit(0)
    binary = os.path.abspath(args.server)
    work = tempfile.mkdtemp(prefix="peek-diskfault-")
    disk_full(binary, work)
    read_only_profiles_folder(binary, work)
    read_only_at_start(binary, work)
    print("diskfault: all checks passed", flush=True)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

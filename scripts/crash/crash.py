#!/usr/bin/env python3
"""Server crash safety (issue #7): kill -9 under write load, many times.

Starts `peek-server serve` on 127.0.0.1 over a temporary data directory,
drives WRITERS concurrent clients (two users, two profiles each) that push
single items, batches, tombstones, tag changes and images, and records
every write the server acknowledged (2xx). At a random moment it kills the
server with SIGKILL, checks every SQLite file with `PRAGMA integrity_check`,
restarts the server, and checks that every acknowledged write is there:

* every acked item (by sync id) exists with content at least as new as the
  last acked version (a write can commit and lose its answer: newer is ok);
* every acked delete is still a tombstone;
* every acked tag change is the item's tag set, unless a later write to it
  was in flight;
* every acked image is listed and its bytes read back identical.

Python 3 standard library only. Usage (run.sh builds the server first):

    scripts/crash/crash.py --server target/release/peek-server --rounds 25
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

USERS = ["crash-a", "crash-b"]


def log(msg):
    print(msg, flush=True)


class Server:
    def __init__(self, binary, data_dir, port):
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.proc = None
        self.log = open(os.path.join(os.path.dirname(data_dir), "server.log"), "ab")

    def admin(self, *args):
        out = subprocess.run(
            [self.binary, "--data-dir", self.data_dir, *args],
            check=True, capture_output=True, text=True,
        )
        return out.stdout

    def start(self):
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [self.binary, "--data-dir", self.data_dir, "serve",
             "--listen", f"127.0.0.1:{self.port}", "--no-startup-backup"],
            stdout=self.log, stderr=self.log,
        )
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/")
                if c.getresponse().status == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            if self.proc.poll() is not None:  # e.g. the port is taken
                raise SystemExit(f"server exited with {self.proc.returncode}; see server.log")
            if time.monotonic() - t0 > 30:
                raise SystemExit("server did not start in 30 s")
            time.sleep(0.02)

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


class Acked:
    """What the server acknowledged, shared by the writers."""

    def __init__(self):
        self.lock = threading.Lock()
        # (user, profile, sync_id) -> {"ver": int, "deleted": bool, "tags": list|None, "inflight": int}
        self.items = {}
        # (user, profile, image_id) -> sha256 of bytes
        self.images = {}
        self.count = 0


class Writer(threading.Thread):
    def __init__(self, n, port, keys, profiles, acked, seed):
        super().__init__(daemon=True)
        self.n, self.port, self.keys, self.profiles, self.acked = n, port, keys, profiles, acked
        self.rng = random.Random(seed)
        self.running = threading.Event()
        self.idle = threading.Event()
        self.stop = False
        self.conn = None
        self.seq = 0
        self.mine = []  # (user, profile, sync_id, ver)
        self.errors = 0

    def request(self, user, method, path, body):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.keys[user]}", "Content-Type": "application/json"}
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            payload = r.read()
            return r.status, payload
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            return None, None

    def one_write(self):
        user = self.rng.choice(USERS)
        profile = self.rng.choice(self.profiles[user])
        q = f"?profile={profile}"
        a = self.acked
        roll = self.rng.random()
        mine = [m for m in self.mine if m[0] == user and m[1] == profile]
        if roll < 0.45 or not mine:
            self.seq += 1
            sid = f"w{self.n}-{self.seq}"
            st, _ = self.request(user, "POST", "/items" + q,
                                 {"type": "text", "content": f"{sid} v1", "sync_id": sid, "tags": ["t1"]})
            if st == 200:
                with a.lock:
                    a.items[(user, profile, sid)] = {"ver": 1, "deleted": False, "tags": ["t1"]}
                    a.count += 1
                self.mine.append([user, profile, sid, 1])
            return st
        if roll < 0.65:
            batch = []
            for _ in range(10):
                self.seq += 1
                sid = f"w{self.n}-{self.seq}"
                batch.append({"type": "url", "content": f"https://{sid}/v1", "sync_id": sid, "tags": ["b"]})
            st, payload = self.request(user, "POST", "/items/batch" + q, {"items": batch})
            if st == 200:
                res = json.loads(payload)["results"]
                with a.lock:
                    for it, r in zip(batch, res):
                        if r.get("status") in ("created", "updated", "unchanged"):
                            a.items[(user, profile, it["sync_id"])] = {"ver": 1, "deleted": False, "tags": ["b"], "url": True}
                            a.count += 1
                            self.mine.append([user, profile, it["sync_id"], 1])
            return st
        if roll < 0.8:
            m = self.rng.choice(mine)
            with a.lock:
                rec = a.items[(user, profile, m[2])]
                if rec["deleted"]:
                    return 200
            ver = m[3] + 1
            url = rec.get("url")
            content = f"https://{m[2]}/v{ver}" if url else f"{m[2]} v{ver}"
            # Mark in flight first: if the answer is lost, a newer version
            # or tag set may be on disk, and the check allows for it.
            m[3] = ver
            st, _ = self.request(user, "POST", "/items" + q,
                                 {"type": "url" if url else "text", "content": content,
                                  "sync_id": m[2], "tags": [f"t{ver}"]})
            if st == 200:
                with a.lock:
                    rec["ver"], rec["tags"] = ver, [f"t{ver}"]
                    a.count += 1
            else:
                with a.lock:
                    rec["tags"] = None  # unknown now
            return st
        if roll < 0.9:
            m = self.rng.choice(mine)
            with a.lock:
                url = a.items[(user, profile, m[2])].get("url")
            st, payload = self.request(user, "POST", "/items" + q,
                                       {"type": "url" if url else "text", "content": "https://x" if url else "x",
                                        "sync_id": m[2], "deletedAt": int(time.time() * 1000)})
            if st == 200:
                with a.lock:
                    a.items[(user, profile, m[2])]["deleted"] = True
                    a.count += 1
                self.mine.remove(m)
            return st
        body = os.urandom(64) + f"img-{self.n}-{self.seq}".encode()
        self.seq += 1
        st, payload = self.request(user, "POST", "/images" + q,
                                   {"content": base64.b64encode(b"\x89PNG" + body).decode(),
                                    "filename": f"i{self.seq}.png", "mime": "image/png"})
        if st == 200:
            with a.lock:
                a.images[(user, profile, json.loads(payload)["id"])] = hashlib.sha256(b"\x89PNG" + body).hexdigest()
                a.count += 1
        return st

    def run(self):
        while not self.stop:
            if not self.running.is_set():
                self.idle.set()
                self.running.wait(0.1)
                continue
            self.idle.clear()
            st = self.one_write()
            if st is None:
                time.sleep(0.01)
            elif st >= 300:
                self.errors += 1
                log(f"writer {self.n}: unexpected status {st}")


def free_port():
    """A port nobody listens on now (other servers may share the machine)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def integrity(data_dir):
    checked = 0
    for root, _, files in os.walk(data_dir):
        for f in files:
            if f.endswith(".sqlite") or f.endswith(".db"):
                c = sqlite3.connect(os.path.join(root, f))
                ok = c.execute("PRAGMA integrity_check").fetchone()[0]
                c.close()
                if ok != "ok":
                    raise SystemExit(f"integrity_check failed on {root}/{f}: {ok}")
                checked += 1
    return checked


def verify(port, keys, profiles, acked):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(user, path):
        c.request("GET", path, headers={"Authorization": f"Bearer {keys[user]}"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"GET {path}: {r.status} {body[:200]!r}")
        return body

    with acked.lock:
        items = dict((k, dict(v)) for k, v in acked.items.items())
        images = dict(acked.images)
    missing = []
    for user in USERS:
        for p in profiles[user]:
            rows = json.loads(get(user, f"/items?includeDeleted=true&profile={p}"))["items"]
            synced = [r for r in rows if r.get("syncId")]
            by_sync = {r["syncId"]: r for r in synced}
            if len(by_sync) != len(synced):
                raise SystemExit(f"duplicate sync ids in {user}/{p}")
            for (u, pp, sid), rec in items.items():
                if (u, pp) != (user, p):
                    continue
                row = by_sync.get(sid)
                if row is None:
                    missing.append(f"{user}/{p}/{sid}: missing")
                    continue
                if rec["deleted"]:
                    if not row.get("deletedAt"):
                        missing.append(f"{sid}: acked delete undone")
                    continue
                if row.get("deletedAt"):
                    continue  # a delete in flight may have committed
                ver = int((row.get("content") or "v0").rsplit("v", 1)[1])
                if ver < rec["ver"]:
                    missing.append(f"{sid}: v{ver} < acked v{rec['ver']}")
                if rec["tags"] is not None and ver == rec["ver"] and sorted(row["tags"]) != sorted(rec["tags"]):
                    missing.append(f"{sid}: tags {row['tags']} != acked {rec['tags']}")
            for (u, pp, iid), digest in images.items():
                if (u, pp) != (user, p):
                    continue
                data = get(user, f"/images/{iid}?profile={p}")
                if hashlib.sha256(data).hexdigest() != digest:
                    missing.append(f"image {iid}: bytes differ")
    if missing:
        raise SystemExit("acknowledged writes lost:\n  " + "\n  ".join(missing[:20]))
    return len(items), len(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="target/release/peek-server")
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--writers", type=int, default=6)
    ap.add_argument("--min-run", type=float, default=0.2, help="shortest time under load before a kill (s)")
    ap.add_argument("--max-run", type=float, default=2.5, help="longest time under load before a kill (s)")
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    if args.port == 0:
        args.port = free_port()
    log(f"seed={args.seed} rounds={args.rounds} writers={args.writers}")
    work = tempfile.mkdtemp(prefix="peek-crash-")
    data = os.path.join(work, "data")
    srv = Server(os.path.abspath(args.server), data, args.port)
    keys = {}
    for u in USERS:
        keys[u] = f"{u}-key-{args.seed}"
        srv.admin("user", "create", u, "--key", keys[u])
    srv.start()
    profiles = {}
    for u in USERS:
        ids = ["default"]
        for name in ("work",):
            c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=5)
            c.request("POST", "/profiles", body=json.dumps({"name": name}),
                      headers={"Authorization": f"Bearer {keys[u]}", "Content-Type": "application/json"})
            ids.append(json.loads(c.getresponse().read())["profile"]["id"])
        profiles[u] = ids
    acked = Acked()
    writers = [Writer(i, args.port, keys, profiles, acked, rng.random()) for i in range(args.writers)]
    for w in writers:
        w.start()
    restarts, files_checked = [], 0
    t_start = time.monotonic()
    try:
        for rnd in range(1, args.rounds + 1):
            for w in writers:
                w.running.set()
            time.sleep(rng.uniform(args.min_run, args.max_run))
            srv.kill9()
            for w in writers:
                w.running.clear()
            for w in writers:
                w.idle.wait(15)
            files_checked += integrity(data)
            restarts.append(srv.start())
            n_items, n_images = verify(args.port, keys, profiles, acked)
            log(f"round {rnd}: killed, integrity ok, restarted in {restarts[-1]*1000:.0f} ms, "
                f"{acked.count} acked writes so far, {n_items} items + {n_images} images verified")
        # The checker must be able to fail: remove one acknowledged item
        # behind the server's back and expect verify() to notice.
        for w in writers:
            w.running.clear()
        for w in writers:
            w.idle.wait(15)
        srv.stop()
        (user, profile, sid), _ = next(iter(acked.items.items()))
        removed = 0
        for root, _, files in os.walk(data):
            if "datastore.sqlite" in files:
                c = sqlite3.connect(os.path.join(root, "datastore.sqlite"))
                removed += c.execute("DELETE FROM items WHERE syncId = ?", (sid,)).rowcount
                c.commit()
                c.close()
        srv.start()
        try:
            verify(args.port, keys, profiles, acked)
            raise SystemExit("self-check failed: a removed acked write went unnoticed")
        except SystemExit as e:
            if "acknowledged writes lost" not in str(e) or removed != 1:
                raise
        log(f"self-check: removing acked item {sid} behind the server's back is detected")
    finally:
        for w in writers:
            w.stop = True
        srv.stop()
    errors = sum(w.errors for w in writers)
    restarts.sort()
    log(f"RESULT rounds={args.rounds} kills={args.rounds} acked_writes={acked.count} "
        f"items={len(acked.items)} images={len(acked.images)} lost=0 integrity_checks={files_checked} "
        f"unexpected_statuses={errors} restart_ms_p50={restarts[len(restarts)//2]*1000:.0f} "
        f"restart_ms_max={restarts[-1]*1000:.0f} seconds={time.monotonic()-t_start:.0f}")
    if args.keep:
        log(f"data kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Device crash safety with a real process (issue #7): kill -9 `peek-sync`.

`engine/tests/crash.rs` stops the sync between steps in-process; this kills
the real client process (SIGKILL, at a random moment, so also in the middle
of its SQLite transactions) while it pulls a large profile and pushes local
work, ROUNDS times. Between rounds the user adds and edits items with the
same CLI. After every kill the device file passes `PRAGMA integrity_check`
and every local item is still there; at the end, syncs run to completion:
the second pushes and pulls nothing, and device and server hold the same
live items, each once.

Usage: scripts/crash/device.py --server target/release/peek-server \\
           --client target/release/peek-sync --rounds 20
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(msg, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="target/release/peek-server")
    ap.add_argument("--client", default="target/release/peek-sync")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--remote", type=int, default=4000, help="items other devices write per round")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="peek-device-crash-")
    data, db = os.path.join(work, "data"), os.path.join(work, "device.db")
    server, client = os.path.abspath(args.server), os.path.abspath(args.client)
    key = f"device-key-{args.seed}"
    subprocess.run([server, "--data-dir", data, "user", "create", "d", "--key", key],
                   check=True, capture_output=True)
    port = free_port()
    srv = subprocess.Popen([server, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}",
                            "--no-startup-backup"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")

    def cli(*a, check=True):
        return subprocess.run([client, "--db", db, *a], check=check, capture_output=True, text=True)

    try:
        for _ in range(300):
            try:
                if call("GET", "/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.02)
        log(f"seed={args.seed} rounds={args.rounds} remote items per round={args.remote}")
        remote = 0

        def other_devices_write(n):
            nonlocal remote
            for start in range(remote, remote + n, 1000):
                items = [{"type": "text", "content": f"remote {i}", "sync_id": f"r{i}"}
                         for i in range(start, min(start + 1000, remote + n))]
                st, body = call("POST", "/items/batch", {"items": items})
                assert st == 200, body
            remote += n

        cli("config", "--server", f"http://127.0.0.1:{port}", "--key", key)
        local = {}  # local id -> content the user last gave it
        kills, durations, typical = 0, [], 0.3
        for rnd in range(1, args.rounds + 1):
            for _ in range(3):
                content = f"local {rnd}-{len(local)}"
                lid = cli("add", "text", content).stdout.strip()
                local[lid] = content
            lid = rng.choice(list(local))
            local[lid] = f"edited in round {rnd}"
            cli("update", lid, "--content", local[lid])
            other_devices_write(args.remote)
            p = subprocess.Popen([client, "--db", db, "sync"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            t0 = time.monotonic()
            # A moment within the sync: it pulls `remote` new items and
            # pushes the user's; a full one took `typical` seconds.
            time.sleep(rng.uniform(0.0, 1.2 * typical))
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                kills += 1
            p.wait()
            durations.append(time.monotonic() - t0)
            # The backlog grows while syncs die: so does a full sync's time.
            typical = durations[-1] if p.returncode == 0 else typical * 1.2
            c = sqlite3.connect(db)
            ok = c.execute("PRAGMA integrity_check").fetchone()[0]
            c.close()
            if ok != "ok":
                raise SystemExit(f"round {rnd}: integrity_check: {ok}")
            have = {}
            for line in cli("list", "--json").stdout.splitlines():
                it = json.loads(line)
                have[it["id"]] = it["content"]
            lost = [k for k, v in local.items() if have.get(k) != v]
            if lost:
                raise SystemExit(f"round {rnd}: local items lost or changed: {lost[:5]}")
            log(f"round {rnd}: {'killed' if p.returncode == -9 else 'finished'} after "
                f"{durations[-1]*1000:.0f} ms; integrity ok; {len(local)} local items intact, "
                f"{len(have)} on the device")
        first = cli("sync").stdout.strip()
        second = cli("sync").stdout.strip()
        log(f"final syncs: '{first}' then '{second}'")
        if not second.startswith("pulled 0, pushed 0"):
            raise SystemExit(f"did not settle: {second}")
        device = sorted(json.loads(l)["content"] for l in cli("list", "--json").stdout.splitlines())
        st, body = call("GET", "/items")
        on_server = sorted(i["content"] for i in body["items"])
        want = sorted(list(local.values()) + [f"remote {i}" for i in range(remote)])
        if device != want or on_server != want:
            raise SystemExit(f"not converged: device {len(device)}, server {len(on_server)}, want {len(want)}")
        st, body = call("GET", "/items?includeDeleted=true")
        if len(body["items"]) != len(want):
            raise SystemExit(f"duplicates on the server: {len(body['items'])} rows for {len(want)} items")
        log(f"RESULT rounds={args.rounds} kills={kills} local_items={len(local)} remote_items={remote} "
            f"lost=0 integrity_checks={args.rounds} converged=yes duplicates=0")
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

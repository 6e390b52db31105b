#!/usr/bin/env python3
"""Mutation testing of the sync paths with a curated mutant set.

Each mutant of scripts/mutation/mutants.toml is one realistic bug, written
as an exact text replacement. For every selected mutant this script applies
it to a scratch copy of the tree at HEAD (outside the repository), builds
the release binaries peek-sim and peek-conform (one shared target
directory, incremental, so a mutant costs one small rebuild), and runs the
detectors in order, stopping at the first that kills it:

  1. simulator:   peek-sim explore --seeds 200 --out FILE; the lowest new
                  failing seed is then shrunk (peek-sim run --seed S
                  --minimized-out F) for the size of its repro;
  2. conformance: peek-conform --client reference; killed when a cell that
                  is expected to pass fails.

The unit tests are not detectors. Both detectors first run on the unmutated
tree (the baseline); a mutant is judged only by failures the baseline does
not have. The results go to a JSON file and a Markdown report
(docs/mutation.md says how to read it).

Nothing in the working tree is changed; the scratch tree is removed at the
end and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MUTANTS = REPO / "scripts" / "mutation" / "mutants.toml"
FIELDS = ("id", "kind", "file", "find", "replace", "why")
# The argument that a mutant is equivalent (no run can tell it from the
# original), written by a person; the report shows it under a survivor.
OPTIONAL = ("equivalence",)
ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
BINS = ("peek-sim", "peek-conform")

EXAMPLES = """\
examples:
  python3 scripts/mutation/run.py --check            # is every mutant still applicable?
  python3 scripts/mutation/run.py --list
  nice python3 scripts/mutation/run.py               # the whole set, report in docs/mutation/
  python3 scripts/mutation/run.py --only feed-includes-cursor,restore-not-noticed
  python3 scripts/mutation/run.py --seeds 1000 --jobs 2 --report /tmp/m/report.md
  python3 scripts/mutation/run.py --target-dir target # reuse the release deps already built there
  python3 scripts/mutation/run.py --apply own-echo-taken /tmp/echo   # a mutated tree to look into

exit status: 0 when no mutant survived (build failures and stale mutants
count as failures too), 1 otherwise, 2 when the run could not be made
(baseline does not build, bad arguments).
"""


class Stale(Exception):
    pass


# --------------------------------------------------------------------------
# The mutant set


def load_mutants(path: Path) -> list[dict]:
    """The mutants of `path`, checked for shape (not for applicability)."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    mutants = data.get("mutant")
    if not isinstance(mutants, list) or not mutants:
        raise SystemExit(f"{path}: no [[mutant]] entries")
    seen = set()
    problems = []
    for i, m in enumerate(mutants):
        where = f"{path.name}: mutant #{i + 1} ({m.get('id', '?')})"
        for k in FIELDS:
            if not isinstance(m.get(k), str):
                problems.append(f"{where}: `{k}` missing or not a string")
        for k in OPTIONAL:
            if k in m and not isinstance(m[k], str):
                problems.append(f"{where}: `{k}` is not a string")
        extra = set(m) - set(FIELDS) - set(OPTIONAL)
        if extra:
            problems.append(f"{where}: unknown keys {sorted(extra)}")
        mid = m.get("id", "")
        if isinstance(mid, str) and not ID_RE.match(mid):
            problems.append(f"{where}: id is not kebab-case")
        if mid in seen:
            problems.append(f"{where}: id given twice")
        seen.add(mid)
        if m.get("find") == "":
            problems.append(f"{where}: empty `find`")
        if m.get("find") == m.get("replace"):
            problems.append(f"{where}: `replace` equals `find`")
    if problems:
        raise SystemExit("\n".join(problems))
    return mutants


def stale_reason(m: dict, root: Path) -> str | None:
    """Why `m` cannot be applied to the tree at `root`, or None."""
    p = root / m["file"]
    if not p.is_file():
        return f"{m['file']} does not exist"
    n = p.read_text(encoding="utf-8").count(m["find"])
    if n != 1:
        return f"its `find` occurs {n} times in {m['file']} (must be exactly once)"
    return None


def apply(m: dict, root: Path) -> str:
    """Applies `m` under `root`; returns the original text of its file."""
    why = stale_reason(m, root)
    if why:
        raise Stale(why)
    p = root / m["file"]
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace(m["find"], m["replace"], 1), encoding="utf-8")
    return text


def restore(m: dict, root: Path, text: str) -> None:
    # Written, not copied with its old time stamp: the new mtime is what
    # tells cargo the crate changed back.
    (root / m["file"]).write_text(text, encoding="utf-8")


def diff_of(m: dict) -> str:
    a = m["find"].splitlines()
    b = m["replace"].splitlines()
    lines = difflib.unified_diff(a, b, m["file"], m["file"], n=0, lineterm="")
    return "\n".join(list(lines)[2:])


# --------------------------------------------------------------------------
# Processes


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def export_head(dest: Path) -> None:
    """HEAD's tree into `dest`, every file stamped now (-m): the target
    directory may hold builds of another tree, and only newer sources make
    cargo rebuild them."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.Popen(
        ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"], stdout=subprocess.PIPE
    )
    tar = subprocess.run(["tar", "-x", "-m", "-C", str(dest)], stdin=archive.stdout)
    archive.stdout.close()
    if archive.wait() != 0 or tar.returncode != 0:
        raise SystemExit("could not export HEAD (git archive | tar -x)")


def run_logged(cmd, cwd, log: Path, env=None, timeout=None):
    """Runs `cmd` with its output in `log`; (exit code or None on a
    timeout, seconds)."""
    started = time.monotonic()
    with open(log, "ab") as out:
        out.write(("$ " + shlex.join(str(c) for c in cmd) + "\n").encode())
        out.flush()
        try:
            rc = subprocess.run(
                [str(c) for c in cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                env=env, timeout=timeout,
            ).returncode
        except subprocess.TimeoutExpired:
            rc = None
    return rc, time.monotonic() - started


def tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def build_errors(log: Path) -> str:
    """The first compiler errors of a failed build, for the report."""
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    out = [l for l in text if l.startswith("error")]
    return "; ".join(out[:3]) or tail(log, 5)


class Runner:
    def __init__(self, args, tree: Path, work: Path):
        self.a = args
        self.tree = tree
        self.work = work
        self.bin = Path(args.target_dir) / "release"
        self.env = dict(os.environ)
        self.env["CARGO_TERM_COLOR"] = "never"
        if args.incremental:
            # A mutant changes one function: incremental release builds
            # make its rebuild seconds instead of minutes (docs/mutation.md).
            self.env["CARGO_PROFILE_RELEASE_INCREMENTAL"] = "true"
        self.sim_args = shlex.split(args.sim_args)
        self.conform_args = shlex.split(args.conform_args)

    def build(self, log: Path):
        cmd = ["cargo", "build", "--release", "--locked", "--target-dir", self.a.target_dir,
               "-p", "sim", "--bin", "peek-sim", "-p", "conformance", "--bin", "peek-conform"]
        if self.a.cargo_jobs:
            cmd += ["-j", str(self.a.cargo_jobs)]
        return run_logged(cmd, self.tree, log, env=self.env)

    def explore(self, log: Path, name: str):
        """Every seed's verdict: {seed: group or None}, or an error."""
        out = self.work / f"{name}-explore.json"
        out.unlink(missing_ok=True)
        cmd = [self.bin / "peek-sim", "explore", "--seeds", self.a.seeds, "--from", self.a.from_seed,
               "--jobs", self.a.jobs, "--out", out, *self.sim_args]
        rc, secs = run_logged(cmd, self.tree, log, env=self.env, timeout=self.a.timeout)
        res = {"seconds": round(secs, 1), "exit": rc}
        if rc is None:
            res["error"] = f"timed out after {self.a.timeout}s"
            return res
        if rc not in (0, 1) or not out.exists():
            res["error"] = f"peek-sim explore exited {rc} without results"
            res["log"] = tail(log, 8)
            return res
        data = json.loads(out.read_text())
        verdicts = {}
        for s in data["results"]:
            v = s["verdict"]
            kind = v.get("verdict")
            if kind == "passed":
                verdicts[s["seed"]] = None
            elif kind == "failed":
                verdicts[s["seed"]] = v.get("invariant", "?")
            elif kind == "world-error":
                verdicts[s["seed"]] = "world error: " + v.get("error", "")
            else:
                verdicts[s["seed"]] = "panic: " + v.get("message", "")
        res["verdicts"] = verdicts
        return res

    def shrink(self, log: Path, name: str, seed: int):
        """The minimized world of `seed` (peek-sim run --minimized-out)."""
        out = self.work / f"{name}-minimized.json"
        out.unlink(missing_ok=True)
        cmd = [self.bin / "peek-sim", "run", "--seed", seed, "--shrink-budget", self.a.shrink_budget,
               "--minimized-out", out, *self.sim_args]
        rc, secs = run_logged(cmd, self.tree, log, env=self.env, timeout=self.a.timeout)
        res = {"seconds": round(secs, 1)}
        if rc is None:
            res["error"] = f"timed out after {self.a.timeout}s"
        elif not out.exists():
            res["error"] = f"peek-sim run exited {rc} without a minimized world"
        else:
            w = json.loads(out.read_text())
            res["events"] = w.get("events", [])
            res["invariant"] = w.get("invariant")
            res["runs"] = w.get("runs")
        return res

    def conform(self, log: Path, name: str):
        """Every cell's judgement: {scenario: cell}, or an error."""
        out = self.work / f"{name}-conform"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [self.bin / "peek-conform", "--client", "reference", "--report", out,
               *self.conform_args]
        env = dict(self.env, PEEK_REPORT_COMMIT="mutation-run")
        rc, secs = run_logged(cmd, self.tree, log, env=env, timeout=self.a.timeout)
        res = {"seconds": round(secs, 1), "exit": rc}
        matrix = out / "matrix.json"
        if rc is None:
            res["error"] = f"timed out after {self.a.timeout}s"
            return res
        if rc not in (0, 1) or not matrix.exists():
            res["error"] = f"peek-conform exited {rc} without a matrix"
            res["log"] = tail(log, 8)
            return res
        data = json.loads(matrix.read_text())
        res["cells"] = {
            c["scenario"]: {
                "judgement": c["judgement"],
                "detail": c.get("detail", ""),
                "replay": c.get("replay", ""),
                "events": events_of(c.get("counterexample")),
            }
            for c in data["cells"]
        }
        return res


def events_of(counterexample) -> int | None:
    """The size of a property cell's minimal counterexample (a replay
    world); None for a documented scenario's outcome."""
    if isinstance(counterexample, dict) and isinstance(counterexample.get("events"), list):
        return len(counterexample["events"])
    return None


# --------------------------------------------------------------------------
# One mutant


def judge(r: Runner, m: dict, base: dict, idx: int, total: int) -> dict:
    mid = m["id"]
    log = r.work / f"{mid}.log"
    res = {k: m[k] for k in ("id", "kind", "file", "why")}
    started = time.monotonic()

    def progress(what: str):
        say(f"[{idx}/{total}] {mid}: {what} ({time.monotonic() - started:.0f}s)")

    try:
        original = apply(m, r.tree)
    except Stale as e:
        res.update(status="stale", note=str(e))
        progress(f"STALE: {e}")
        return res
    try:
        progress("building")
        rc, secs = r.build(log)
        res["build_s"] = round(secs, 1)
        if rc != 0:
            res.update(status="build-failed", note=build_errors(log))
            progress("BUILD FAILED")
            return finish(res, started)
        progress(f"built in {secs:.0f}s; simulator (peek-sim explore --seeds {r.a.seeds})")
        sim = r.explore(log, mid)
        res["sim_s"] = sim["seconds"]
        if "error" in sim:
            res.update(status="detector-error", detector="simulator", note=sim["error"])
            progress(f"simulator error: {sim['error']}")
            return finish(res, started)
        new = [(s, g) for s, g in sorted(sim["verdicts"].items())
               if g is not None and base["sim"].get(s) is None]
        if new:
            seed, group = new[0]
            res.update(status="killed", detector="simulator", first_seed=seed,
                       seeds_until=seed - r.a.from_seed + 1, failing_seeds=len(new),
                       invariant=group)
            groups = sorted({g for _, g in new})
            res["invariants"] = groups
            tries = [s for s, _ in new[: max(1, r.a.repro_seeds)]]
            progress(f"killed by the simulator at seed {seed} ({group}); shrinking seed(s) "
                     + ", ".join(map(str, tries)))
            best, errors, shrink_s = None, [], 0.0
            for s in tries:
                sh = r.shrink(log, f"{mid}-{s}", s)
                shrink_s += sh["seconds"]
                if "error" in sh:
                    errors.append(f"seed {s}: {sh['error']}")
                elif best is None or len(sh["events"]) < len(best[1]["events"]):
                    best = (s, sh)
            res["shrink_s"] = round(shrink_s, 1)
            res["shrunk_seeds"] = tries
            flags = (" " + shlex.join(r.sim_args)) if r.sim_args else ""
            if best is None:
                res["note"] = "no shrunk repro: " + "; ".join(errors)
                res["repro"] = f"peek-sim run --seed {seed}{flags}"
            else:
                s, sh = best
                res["repro_seed"] = s
                res["repro_events"] = len(sh["events"])
                res["shrunk_invariant"] = sh["invariant"]
                res["shrunk"] = sh["events"]
                res["repro"] = f"peek-sim run --seed {s}{flags}"
                progress(f"smallest repro: {len(sh['events'])} event(s), seed {s}")
            if r.a.all_detectors and not r.a.no_conform:
                progress("--all-detectors: conformance too")
                con, failed = conform_kills(r, log, mid, base)
                res["conform_s"] = con["seconds"]
                res["conformance_alone"] = (
                    {"error": con["error"]} if "error" in con
                    else {"killed": bool(failed), "scenarios": [sc for sc, _ in failed]})
            return finish(res, started)
        if not r.a.no_conform:
            progress("simulator: nothing new; conformance (peek-conform --client reference)")
            con, failed = conform_kills(r, log, mid, base)
            res["conform_s"] = con["seconds"]
            if "error" in con:
                res.update(status="detector-error", detector="conformance", note=con["error"])
                progress(f"conformance error: {con['error']}")
                return finish(res, started)
            if failed:
                scen, cell = failed[0]
                res.update(status="killed", detector="conformance", invariant=scen,
                           invariants=[s for s, _ in failed], repro=cell["replay"],
                           detail=cell["detail"][:300])
                if cell["events"] is not None:
                    res["repro_events"] = cell["events"]
                progress(f"killed by conformance ({', '.join(s for s, _ in failed)})")
                return finish(res, started)
        res["status"] = "survived"
        progress("SURVIVED")
        return finish(res, started)
    finally:
        restore(m, r.tree, original)


def conform_kills(r: Runner, log: Path, mid: str, base: dict):
    """The suite's run and the cells it fails that the baseline passes."""
    con = r.conform(log, mid)
    if "error" in con:
        return con, []
    failed = [(s, c) for s, c in con["cells"].items()
              if c["judgement"] == "unexpected-failure"
              and base["conform"].get(s, {}).get("judgement") != "unexpected-failure"]
    return con, failed


def finish(res: dict, started: float) -> dict:
    res["total_s"] = round(time.monotonic() - started, 1)
    return res


# --------------------------------------------------------------------------
# Report


def md_cell(v) -> str:
    return "—" if v is None or v == "" else str(v).replace("|", "\\|")


def fmt_s(s) -> str:
    if s is None:
        return "—"
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.1f} min"


def totals(results: list[dict]) -> dict:
    t = {"simulator": 0, "conformance": 0, "survived": 0, "build-failed": 0, "stale": 0,
         "detector-error": 0}
    for r in results:
        if r["status"] == "killed":
            t[r["detector"]] += 1
        else:
            t[r["status"]] += 1
    return t


def render(run: dict, results: list[dict], mutants: dict[str, dict]) -> str:
    t = totals(results)
    L = []
    L.append("# Mutation testing report")
    L.append("")
    if run.get("label"):
        L.append(f"**{run['label']}**")
        L.append("")
    if run.get("interrupted"):
        L.append("**Interrupted**: only the mutants listed below ran.")
        L.append("")
    dirty = " (working tree dirty: its uncommitted changes were not part of the run)" \
        if run["dirty"] else ""
    L.append(f"- Commit: `{run['commit']}`{dirty}")
    L.append(f"- Date: {run['date']}")
    L.append(f"- Machine: {run['cores']} core(s) usable (nproc), {run['machine']}")
    L.append(f"- Command: `{run['command']}`")
    L.append(f"- Detectors, in order (the first that kills wins; unit tests are not run): "
             f"`{run['sim_cmd']}`, then `{run['conform_cmd']}`")
    b = run["baseline"]
    L.append(f"- Baseline (unmutated tree): simulator {b['sim_passed']}/{b['sim_seeds']} seeds "
             f"passed{b['sim_note']}; conformance {b['conform_ok']}/{b['conform_cells']} cells "
             f"as expected{b['conform_note']}. Mutants are judged only by failures the "
             f"baseline does not have.")
    L.append(f"- Time: {fmt_s(run['total_s'])} in all (baseline build {fmt_s(b['build_s'])}, "
             f"detectors {fmt_s(b['detect_s'])}); per mutant median {fmt_s(run['median_s'])}, "
             f"longest {fmt_s(run['max_s'])}.")
    L.append("")
    L.append("## Totals")
    L.append("")
    n = len(results)
    line = (f"{n} mutants: killed by the simulator {t['simulator']}, by conformance "
            f"{t['conformance']}, survived {t['survived']}, build-failed {t['build-failed']}")
    if t["stale"]:
        line += f", stale {t['stale']}"
    if t["detector-error"]:
        line += f", detector errors {t['detector-error']}"
    L.append(line + ".")
    target = [r for r in results if r["status"] == "killed"
              and (r["detector"] == "conformance" or r.get("seeds_until", 10**9) <= run["seeds"])
              and r.get("repro_events") is not None and r["repro_events"] <= 10]
    L.append("")
    L.append(f"The issue's target (killed within {run['seeds']} seeds, or by the suite, with a "
             f"repro of at most 10 events): {len(target)} of {n}; every survivor must be "
             f"shown equivalent below or counts against it.")
    L.append("")
    L.append("## Mutants")
    L.append("")
    L.append("| mutant | kind | file | killed by | seeds to first failure | invariant | "
             "shrunk repro (events) | repro | time |")
    L.append("|---|---|---|---|---:|---|---:|---|---:|")
    for r in results:
        killed = r.get("detector") if r["status"] == "killed" else f"**{r['status']}**"
        seeds = None
        if r.get("detector") == "simulator" and r["status"] == "killed":
            seeds = f"{r['seeds_until']} (seed {r['first_seed']}; {r['failing_seeds']} failing)"
        inv = r.get("invariant")
        if r.get("invariants") and len(r["invariants"]) > 1:
            inv = f"{inv} (+{len(r['invariants']) - 1})"
        repro = f"`{r['repro']}`" if r.get("repro") else None
        L.append("| " + " | ".join([
            f"`{r['id']}`", r["kind"], f"`{r['file']}`", md_cell(killed), md_cell(seeds),
            md_cell(inv), md_cell(r.get("repro_events")), md_cell(repro),
            fmt_s(r.get("total_s")),
        ]) + " |")
    L.append("")
    L.append(f"Seeds to first failure: the seeds from {run['from']} up to and including the "
             "first one that fails (and the baseline passes). The shrunk repro is the smallest "
             f"minimized world of the first {run['repro_seeds']} such seeds.")
    L.append("")
    L.append("A simulator repro runs in a tree with the mutant applied: "
             "`python3 scripts/mutation/run.py --apply ID DIR`, then in DIR "
             "`cargo run --release -p sim --bin peek-sim -- run --seed N` (it shrinks the world "
             "and prints the minimized events). A conformance repro is the failing cell's "
             "replay command, in such a tree.")
    alone = [r for r in results if "conformance_alone" in r]
    if alone:
        found = [r for r in alone if r["conformance_alone"].get("killed")]
        L.append("")
        L.append(f"With `--all-detectors`, the suite alone also kills {len(found)} of the "
                 f"{len(alone)} simulator kills"
                 + (": " + ", ".join(f"`{r['id']}` ({', '.join(r['conformance_alone']['scenarios'])})"
                                     for r in found) if found else "") + ".")
    notes = [r for r in results if r.get("note")]
    if notes:
        L.append("")
        L.append("Notes:")
        L.append("")
        for r in notes:
            L.append(f"- `{r['id']}`: {r['note']}")
    L.append("")
    L.append("## What each mutant changes")
    L.append("")
    for r in results:
        m = mutants[r["id"]]
        L.append(f"### `{r['id']}` ({r['kind']}, {r['status']}"
                 f"{' by the ' + r['detector'] if r['status'] == 'killed' else ''})")
        L.append("")
        L.append(m["why"])
        L.append("")
        L.append("```diff")
        L.append(diff_of(m))
        L.append("```")
        if r.get("shrunk"):
            L.append("")
            inv = r.get("shrunk_invariant") or r.get("invariant")
            L.append(f"Shrunk world of seed {r.get('repro_seed')} ({len(r['shrunk'])} event(s), "
                     f"breaks `{inv}`; the smallest of seeds "
                     f"{', '.join(map(str, r.get('shrunk_seeds', [])))}):")
            L.append("")
            L.append("```")
            for e in r["shrunk"]:
                L.append(json.dumps(e, separators=(",", ":")))
            L.append("```")
        elif r.get("detail"):
            L.append("")
            L.append(f"Failing cell `{r['invariant']}`: {r['detail']}")
        L.append("")
    L.append("## Survivors and equivalence")
    L.append("")
    surv = [r for r in results if r["status"] == "survived"]
    if not surv:
        L.append("No mutant survived.")
    else:
        argued = sum(1 for r in surv if mutants[r["id"]].get("equivalence"))
        L.append(f"{len(surv)} survivor(s), {argued} argued equivalent. An argument is the "
                 "mutant's `equivalence` entry in `scripts/mutation/mutants.toml`, so it "
                 "outlives this report; a survivor without one is a gap of the detectors "
                 "until it is argued or killed.")
        L.append("")
    for r in surv:
        L.append(f"### `{r['id']}` ({r['kind']})")
        L.append("")
        L.append(f"{r['why']}")
        L.append("")
        arg = mutants[r["id"]].get("equivalence")
        if arg:
            L.append(f"- Equivalent: {arg}")
        else:
            L.append("- Equivalent? _To be argued: either why no run of the system can tell this "
                     "mutant from the original (then it is equivalent: write the argument as the "
                     "mutant's `equivalence`), or which capability the detectors lack to see it "
                     "(then it is a gap to close)._")
        L.append("")
    L.append("## Times")
    L.append("")
    L.append("| mutant | build | simulator | shrink | conformance | total |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for r in results:
        L.append(f"| `{r['id']}` | {fmt_s(r.get('build_s'))} | {fmt_s(r.get('sim_s'))} | "
                 f"{fmt_s(r.get('shrink_s'))} | {fmt_s(r.get('conform_s'))} | "
                 f"{fmt_s(r.get('total_s'))} |")
    L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------
# Commands


def cmd_check(mutants: list[dict]) -> int:
    bad = [(m["id"], why) for m in mutants if (why := stale_reason(m, REPO))]
    for mid, why in bad:
        print(f"stale mutant {mid}: {why}")
    if bad:
        print(f"{len(bad)} of {len(mutants)} mutants are stale: update their `find` in "
              f"{MUTANTS.relative_to(REPO)}")
        return 1
    print(f"{len(mutants)} mutants, each `find` found exactly once")
    return 0


def cmd_apply(mutants: dict[str, dict], mid: str, dest: Path) -> int:
    if mid not in mutants:
        print(f"no mutant {mid!r}", file=sys.stderr)
        return 2
    if dest.exists() and any(dest.iterdir()):
        print(f"{dest} is not empty", file=sys.stderr)
        return 2
    export_head(dest)
    try:
        apply(mutants[mid], dest)
    except Stale as e:
        print(f"stale mutant {mid}: {e}", file=sys.stderr)
        return 2
    print(f"HEAD with mutant {mid} applied is in {dest}:")
    print(diff_of(mutants[mid]))
    print(f"cd {dest} && cargo run --release -p sim --bin peek-sim -- run --seed N")
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="run.py", description=__doc__.split("\n\n")[0],
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true",
                   help="only check that every mutant applies (its `find` occurs once); exit 1 if not")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--apply", nargs=2, metavar=("ID", "DIR"),
                   help="write HEAD with one mutant applied into DIR (new or empty) and exit")
    p.add_argument("--only", default="", help="comma-separated mutant ids (default: all)")
    p.add_argument("--mutants", default=str(MUTANTS), help="the mutant set (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=200, help="simulator seeds (default: %(default)s)")
    p.add_argument("--from", dest="from_seed", type=int, default=0,
                   help="first seed (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="peek-sim explore --jobs (default: %(default)s)")
    p.add_argument("--shrink-budget", type=int, default=300,
                   help="most worlds run while shrinking a kill (default: %(default)s)")
    p.add_argument("--repro-seeds", type=int, default=5,
                   help="shrink up to this many of a kill's lowest failing seeds and report the "
                        "smallest repro (default: %(default)s)")
    p.add_argument("--sim-args", default="",
                   help="extra world flags for explore and run, e.g. '--models reference,electron'")
    p.add_argument("--conform-args", default="",
                   help="extra peek-conform flags, e.g. '--cases 64'")
    p.add_argument("--no-conform", action="store_true", help="the simulator is the only detector")
    p.add_argument("--all-detectors", action="store_true",
                   help="run conformance on simulator kills too, to see what the suite finds alone")
    p.add_argument("--target-dir", default=None,
                   help="cargo target directory shared by every mutant (default: "
                        "$CARGO_TARGET_DIR/mutation, else target/mutation in the repository)")
    p.add_argument("--no-incremental", dest="incremental", action="store_false",
                   help="do not set CARGO_PROFILE_RELEASE_INCREMENTAL=true (slower rebuilds)")
    p.add_argument("--cargo-jobs", type=int, default=0, help="cargo build -j (default: cargo's)")
    p.add_argument("--timeout", type=int, default=900,
                   help="seconds one detector may run before it counts as a detector error "
                        "(default: %(default)s)")
    p.add_argument("--report", default=str(REPO / "docs" / "mutation" / "report.md"),
                   help="Markdown report (default: docs/mutation/report.md)")
    p.add_argument("--json", default=None,
                   help="JSON results (default: results.json beside the report)")
    p.add_argument("--label", default="", help="a line for the report's head, e.g. 'Trial run'")
    a = p.parse_args(argv)
    if a.target_dir is None:
        base = os.environ.get("CARGO_TARGET_DIR")
        a.target_dir = str(Path(base) / "mutation") if base else str(REPO / "target" / "mutation")
    a.target_dir = str(Path(a.target_dir).resolve())
    if a.json is None:
        a.json = str(Path(a.report).with_name("results.json"))
    return a


def on_sigterm(*_):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    mutants = load_mutants(Path(a.mutants))
    by_id = {m["id"]: m for m in mutants}
    if a.check:
        return cmd_check(mutants)
    if a.list:
        for m in mutants:
            print(f"{m['id']:34} {m['kind']:18} {m['file']}")
        return 0
    if a.apply:
        return cmd_apply(by_id, a.apply[0], Path(a.apply[1]))
    selected = mutants
    if a.only:
        want = [w.strip() for w in a.only.split(",") if w.strip()]
        unknown = [w for w in want if w not in by_id]
        if unknown:
            print(f"unknown mutant(s): {', '.join(unknown)}; see --list", file=sys.stderr)
            return 2
        selected = [by_id[w] for w in want]

    signal.signal(signal.SIGTERM, on_sigterm)
    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    run = {
        "label": a.label,
        "commit": commit,
        "dirty": dirty,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}",
        "command": shlex.join(["python3", "scripts/mutation/run.py", *argv]),
        "seeds": a.seeds,
        "from": a.from_seed,
        "sim_cmd": f"peek-sim explore --seeds {a.seeds} --from {a.from_seed} --jobs {a.jobs}"
                   + (" " + a.sim_args if a.sim_args else ""),
        "conform_cmd": "peek-conform --client reference" + (" " + a.conform_args if a.conform_args else ""),
        "repro_seeds": a.repro_seeds,
        "all_detectors": a.all_detectors,
        "target_dir": a.target_dir,
        "incremental": a.incremental,
    }
    if a.no_conform:
        run["conform_cmd"] = "(conformance off: --no-conform)"
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="peek-mutation-"))
    tree, work = scratch / "tree", scratch / "work"
    work.mkdir()
    results: list[dict] = []
    code = 0
    try:
        say(f"scratch tree {tree} (HEAD {commit[:12]}{', working tree dirty' if dirty else ''}); "
            f"target dir {a.target_dir}")
        export_head(tree)
        r = Runner(a, tree, work)
        say("baseline: building the unmutated tree")
        log = work / "baseline.log"
        rc, build_s = r.build(log)
        if rc != 0:
            say(f"the unmutated tree does not build:\n{tail(log)}")
            return 2
        say(f"baseline: built in {build_s:.0f}s; running the detectors")
        t0 = time.monotonic()
        sim = r.explore(log, "baseline")
        if "error" in sim:
            say(f"baseline simulator: {sim['error']}\n{sim.get('log', '')}")
            return 2
        con = {"cells": {}, "seconds": 0}
        if not a.no_conform:
            con = r.conform(log, "baseline")
            if "error" in con:
                say(f"baseline conformance: {con['error']}\n{con.get('log', '')}")
                return 2
        base_fail = {s: g for s, g in sim["verdicts"].items() if g}
        con_fail = [s for s, c in con["cells"].items() if c["judgement"] == "unexpected-failure"]
        run["baseline"] = {
            "build_s": round(build_s, 1),
            "detect_s": round(time.monotonic() - t0, 1),
            "sim_seeds": len(sim["verdicts"]),
            "sim_passed": len(sim["verdicts"]) - len(base_fail),
            "sim_failing": {str(s): g for s, g in base_fail.items()},
            "sim_note": "" if not base_fail else
                " (failing: " + ", ".join(f"{s} {g}" for s, g in sorted(base_fail.items())) + ")",
            "conform_cells": len(con["cells"]),
            "conform_ok": len(con["cells"]) - len(con_fail),
            "conform_failing": con_fail,
            "conform_note": "" if not con_fail else f" (unexpected failures: {', '.join(con_fail)})",
        }
        if base_fail or con_fail:
            say(f"baseline is not clean: {run['baseline']['sim_note']} {run['baseline']['conform_note']}")
        base = {"sim": sim["verdicts"], "conform": con["cells"]}
        say(f"baseline: detectors in {run['baseline']['detect_s']:.0f}s; {len(selected)} mutant(s)")
        for i, m in enumerate(selected, 1):
            results.append(judge(r, m, base, i, len(selected)))
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
        run["interrupted"] = True
        code = 130
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if "baseline" not in run:
        return code or 2
    run["total_s"] = round(time.monotonic() - started, 1)
    times = sorted(x["total_s"] for x in results if "total_s" in x)
    run["median_s"] = times[len(times) // 2] if times else None
    run["max_s"] = times[-1] if times else None
    run["totals"] = totals(results)
    report, js = Path(a.report), Path(a.json)
    report.parent.mkdir(parents=True, exist_ok=True)
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps({"run": run, "mutants": results}, indent=2) + "\n")
    report.write_text(render(run, results, by_id))
    t = run["totals"]
    say(f"killed by the simulator {t['simulator']}, by conformance {t['conformance']}, "
        f"survived {t['survived']}, build-failed {t['build-failed']}"
        + (f", stale {t['stale']}" if t["stale"] else "")
        + (f", detector errors {t['detector-error']}" if t["detector-error"] else "")
        + f" in {fmt_s(run['total_s'])}")
    say(f"report: {report}\nresults: {js}")
    if code:
        return code
    return 0 if all(x["status"] == "killed" for x in results) else 1


if __name__ == "__main__":
    sys.exit(main())

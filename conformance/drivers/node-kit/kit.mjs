// The protocol side shared by the Node conformance drivers (docs/driver-protocol.md,
// protocol 2): line reading, concurrent commands, the reply envelope and error
// kinds, the device clock, the data directory, `hello`, and logging.
//
// Import this module FIRST from a driver: it replaces `Date` and `console`
// before the original client's modules are evaluated, so their module-level
// code already sees the device clock and logs to stderr.
//
// No original Peek code lives here; the drivers bundle the original from
// $PEEK_ORIGINAL_DIR at build time.

import { createInterface } from 'node:readline';
import { Console } from 'node:console';
import { mkdtempSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, isAbsolute } from 'node:path';

// ---------------------------------------------------------------- logging

// stdout carries protocol replies only: the client's own console output
// (console.log included) goes to stderr.
const stderrConsole = new Console({ stdout: process.stderr, stderr: process.stderr });
globalThis.console = stderrConsole;

let logName = 'driver';
export function log(...args) {
  const parts = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a)));
  process.stderr.write(`[${logName}] ${parts.join(' ')}\n`);
}

// ---------------------------------------------------------------- clock

// The device clock: real time + offset (set_clock). `Date.now()` and
// `new Date()` with no arguments follow it; `new Date(x)` is unchanged.
const RealDate = Date;
const realNow = RealDate.now.bind(RealDate);
let offsetMs = 0;
class DeviceDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(realNow() + offsetMs);
    else super(...args);
  }
  static now() {
    return realNow() + offsetMs;
  }
}
globalThis.Date = DeviceDate;
export function setClockOffset(ms) {
  offsetMs = Number(ms) || 0;
}

// ---------------------------------------------------------------- HTTP log

// Every HTTP call the client makes, with its answer's status, on stderr.
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const method = (init && init.method) || 'GET';
  try {
    const res = await realFetch(url, init);
    log(`http ${method} ${url} -> ${res.status}`);
    return res;
  } catch (e) {
    log(`http ${method} ${url} -> transport error: ${e && e.message ? e.message : e}`);
    throw e;
  }
};

// ---------------------------------------------------------------- errors

/** Bad input or unknown item: kind `refused`. */
export class Refused extends Error {}
/** A failed sync (HTTP error, transport error, version mismatch): kind `sync`. */
export class SyncFailed extends Error {}
/** Something this client cannot do: kind `unsupported`. */
export class Unsupported extends Error {}

const kindOf = (e) =>
  e instanceof Refused
    ? 'refused'
    : e instanceof SyncFailed
      ? 'sync'
      : e instanceof Unsupported
        ? 'unsupported'
        : 'internal';

// ---------------------------------------------------------------- source

/**
 * What was built: `source.json` beside the bundle, written by the build
 * (node-kit/bundle.mjs) as `{commit, files, paths}`.
 */
export function readSource(bundleUrl) {
  const p = new URL('./source.json', bundleUrl);
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return { commit: null, files: null, paths: [] };
  }
}

// ---------------------------------------------------------------- data dir

/**
 * The device's data directory: `hello`'s `dataDir` (protocol 2), else a
 * fresh directory under $TMPDIR (protocol 1 sends none).
 */
function resolveDataDir(req) {
  const d = req && typeof req.dataDir === 'string' && req.dataDir ? req.dataDir : null;
  if (d) {
    if (!isAbsolute(d)) throw new Refused(`dataDir must be absolute: ${d}`);
    mkdirSync(d, { recursive: true });
    return d;
  }
  return mkdtempSync(join(tmpdir(), 'peek-driver-'));
}

// ---------------------------------------------------------------- the loop

/**
 * Runs the protocol on stdin/stdout.
 *
 * `spec`:
 * - `name`: the hello name (first word names the matrix column);
 * - `source`: `{commit, files, paths}` (see readSource);
 * - `capabilities`: the hello capabilities;
 * - `start(dataDir)`: async, boots the client (the app's launch) from dataDir;
 *   called at `hello`, before any other command;
 * - `commands`: `{cmd: async (req) => result}`; `set_clock` and `hello` are
 *   handled here; `shutdown` calls `commands.shutdown` if present, answers,
 *   then exits;
 * - `afterCommand(cmd)`: optional async hook run after each command's
 *   handler (persistence), before its reply.
 */
export async function run(spec) {
  logName = spec.name.split(' ')[0];
  let started = null; // promise of start()
  let dataDir = null;

  const reply = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

  async function handle(req) {
    const { cmd } = req;
    if (cmd === 'hello') {
      if (!started) {
        dataDir = resolveDataDir(req);
        log(`hello: protocol ${req.protocol ?? 1}, dataDir ${dataDir}`);
        started = spec.start(dataDir);
      }
      await started;
      return {
        name: spec.name,
        protocol: 2,
        source: spec.source,
        capabilities: spec.capabilities,
      };
    }
    if (!started) {
      // A protocol-1 suite always says hello first; be lenient anyway.
      dataDir = resolveDataDir(null);
      started = spec.start(dataDir);
    }
    await started;
    if (cmd === 'set_clock') {
      setClockOffset(req.offsetMs);
      return {};
    }
    const h = spec.commands[cmd];
    if (!h) throw new Unsupported(`unknown command ${cmd}`);
    const result = await h(req);
    if (spec.afterCommand) await spec.afterCommand(cmd);
    return result ?? {};
  }

  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const inflight = new Set();
  let gate = Promise.resolve(); // the last non-sync command
  let syncGate = Promise.resolve(); // the last sync
  let exiting = false;

  const finish = async (code) => {
    if (exiting) return;
    exiting = true;
    await Promise.allSettled([...inflight]);
    // Let stdout drain before exiting.
    process.stdout.write('', () => process.exit(code));
  };

  rl.on('line', (line) => {
    if (exiting || !line.trim()) return;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      reply({ id: 0, ok: false, error: { kind: 'refused', message: `bad request: ${e.message}` } });
      return;
    }
    const brief = { ...req };
    delete brief.id;
    log(`> ${req.id} ${JSON.stringify(brief)}`);
    // Commands run in arrival order, one after the other, except `sync`:
    // it runs on its own (after any earlier sync), so the commands that
    // arrive while it waits on HTTP are answered meanwhile (capability
    // `concurrent`). `shutdown` waits for everything before it.
    const isSync = req.cmd === 'sync';
    const before = req.cmd === 'shutdown' ? Promise.allSettled([...inflight]) : isSync ? Promise.all([gate, syncGate]) : gate;
    const task = (async () => {
      try {
        await before;
        const result = await handle(req);
        const text = JSON.stringify(result);
        log(`< ${req.id} ok ${text.length > 400 ? `${text.slice(0, 400)}…` : text}`);
        reply({ id: req.id, ok: true, result });
      } catch (e) {
        const kind = kindOf(e);
        const message = e && e.message ? e.message : String(e);
        log(`< ${req.id} ${kind}: ${message}${kind === 'internal' && e && e.stack ? `\n${e.stack}` : ''}`);
        reply({ id: req.id, ok: false, error: { kind, message } });
      }
    })();
    if (isSync) syncGate = task.catch(() => {});
    else gate = task.catch(() => {});
    inflight.add(task);
    task.finally(() => inflight.delete(task));
    if (req.cmd === 'shutdown') {
      task.finally(() => finish(0));
    }
  });
  rl.on('close', async () => {
    // stdin closed without `shutdown`: shut the client down the same way.
    await Promise.allSettled([...inflight]);
    if (!exiting && started && spec.commands.shutdown) {
      try {
        await spec.commands.shutdown({});
      } catch (e) {
        log(`shutdown on stdin close failed: ${e && e.message}`);
      }
    }
    finish(0);
  });
}

export { existsSync };

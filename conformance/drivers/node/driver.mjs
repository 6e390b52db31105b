// Conformance driver for the original JS sync engine (`sync/sync.js` with
// its memory adapter), speaking the driver protocol of
// docs/driver-protocol.md: one JSON request per line on stdin, one JSON
// reply per line on stdout.
//
// The original code is NOT part of this repository: the engine is loaded
// from $PEEK_ORIGINAL_DIR (a checkout of the Peek app, holding sync/).
//
//   PEEK_ORIGINAL_DIR=/tmp/peek-original \
//     peek-conform --client 'driver:node conformance/drivers/node/driver.mjs'

import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

const root = process.env.PEEK_ORIGINAL_DIR;
if (!root || !existsSync(join(root, 'sync', 'sync.js'))) {
  process.stderr.write(
    'driver.mjs: set PEEK_ORIGINAL_DIR to a directory holding sync/sync.js\n'
  );
  process.exit(2);
}
const load = (rel) => import(pathToFileURL(join(root, 'sync', rel)).href);
const { SyncEngine } = await load('sync.js');
const { DataEngine } = await load('data.js');
const { createMemoryAdapter } = await load('adapters/memory.js');

// The device clock: the engine reads Date.now() for edit times, markers and
// its cursor, so an offset here is the device's clock skew.
const realNow = Date.now.bind(Date);
let offsetMs = 0;
Date.now = () => realNow() + offsetMs;

// The memory adapter is this "device's" storage; a restart builds new
// engine objects over the same adapter (a process restart with storage
// kept, as on a real device).
const adapter = createMemoryAdapter();
await adapter.open();
const config = { serverUrl: '', apiKey: '', serverProfileId: undefined, lastSyncTime: 0 };
let data;
let sync;
function boot() {
  data = new DataEngine(adapter);
  sync = new SyncEngine(data, {
    getConfig: () => ({ ...config }),
    setConfig: (updates) => {
      Object.assign(config, updates);
    },
  });
}
boot();

class Refused extends Error {}
class SyncFailed extends Error {}

async function live(id) {
  const it = await data.getItem(id);
  if (!it) throw new Refused(`no such item ${id}`);
  return it;
}

async function setTags(id, names) {
  await adapter.clearItemTags(id);
  for (const name of names) {
    const { tag } = await data.getOrCreateTag(name);
    await data.tagItem(id, tag.id);
  }
}

async function view(it) {
  const tags = (await data.getItemTags(it.id)).map((t) => t.name).sort();
  return {
    id: it.id,
    type: it.type,
    content: it.content ?? null,
    tags,
    deleted: Boolean(it.deletedAt),
    syncId: it.syncId || '',
  };
}

const handlers = {
  async hello() {
    return { name: 'original-js-engine (sync/sync.js, memory adapter)', protocol: 1 };
  },
  async configure(r) {
    config.serverUrl = r.serverUrl;
    config.apiKey = r.apiKey;
    config.serverProfileId = r.serverProfileId || undefined;
    return {};
  },
  async create(r) {
    // The engine's local save without a sync id: always a new item.
    const { id } = await data.saveItem(r.type, r.content ?? null, r.tags || [], null, null);
    return { id };
  },
  async update(r) {
    await live(r.item);
    // A content edit goes through updateItem (which bumps updatedAt); a
    // tag edit through tagItem/untagItem only, as the library offers it:
    // those write the link and never mark the item changed (D35).
    if (r.content !== undefined && r.content !== null) {
      await data.updateItem(r.item, { content: r.content });
    }
    if (Array.isArray(r.tags)) await setTags(r.item, r.tags);
    return {};
  },
  async delete(r) {
    await live(r.item);
    await data.deleteItem(r.item);
    return {};
  },
  async tag(r) {
    await live(r.item);
    const { tag } = await data.getOrCreateTag(r.tag);
    await data.tagItem(r.item, tag.id);
    return {};
  },
  async sync(r) {
    try {
      const mode = r.mode || 'full';
      if (mode === 'full') {
        const s = await sync.syncAll();
        return { pulled: s.pulled, pushed: s.pushed };
      }
      if (mode === 'pull') {
        const s = await sync.pullFromServer();
        return { pulled: s.pulled, pushed: 0 };
      }
      if (mode === 'push') {
        const s = await sync.pushToServer();
        return { pulled: 0, pushed: s.pushed };
      }
      throw new Refused(`unknown mode ${mode}`);
    } catch (e) {
      if (e instanceof Refused) throw e;
      throw new SyncFailed(e && e.message ? e.message : String(e));
    }
  },
  async items(r) {
    const all = await adapter.getItems({ includeDeleted: Boolean(r.includeDeleted) });
    return { items: await Promise.all(all.map(view)) };
  },
  async set_clock(r) {
    offsetMs = Number(r.offsetMs) || 0;
    return {};
  },
  async restart() {
    boot();
    return {};
  },
  async shutdown() {
    return {};
  },
};

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    reply({ id: 0, ok: false, error: { kind: 'refused', message: `bad request: ${e.message}` } });
    continue;
  }
  const h = handlers[req.cmd];
  if (!h) {
    reply({ id: req.id, ok: false, error: { kind: 'unsupported', message: `unknown command ${req.cmd}` } });
    continue;
  }
  try {
    reply({ id: req.id, ok: true, result: await h(req) });
  } catch (e) {
    const kind = e instanceof Refused ? 'refused' : e instanceof SyncFailed ? 'sync' : 'internal';
    reply({ id: req.id, ok: false, error: { kind, message: e && e.message ? e.message : String(e) } });
  }
  if (req.cmd === 'shutdown') break;
}
process.exit(0);

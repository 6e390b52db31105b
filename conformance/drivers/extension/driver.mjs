// Conformance driver for the original browser extension: backend/extension's
// background.js (install-time start-up) and api.js, the surface options.js
// calls (app.sync.*, app.profiles.*, app.datastore.*), over the real
// sync.js, datastore.js and profiles.js, speaking driver protocol 2
// (docs/driver-protocol.md) through ../node-kit/kit.mjs.
//
// The original code is not in this repository: build.sh bundles it from
// $PEEK_ORIGINAL_DIR (imports named `@original/...`).
//
// Browser pieces:
// - IndexedDB: fake-indexeddb, in memory. Persistence between re-execs:
//   the driver DUMPS every object store of `peek-datastore` to
//   dataDir/indexeddb.json (one read-only transaction over all stores, so a
//   consistent snapshot; written to a temp file and renamed) after every
//   command and at shutdown, and on start RESTORES it into the stores right
//   after the original openDatabase() has created them, before any other
//   code reads them. (fake-indexeddb has no storage backend of its own.)
// - chrome.storage.local: ./stubs/chrome.mjs, persisted to
//   dataDir/chrome-storage-local.json on every write.
//
// Mapping:
//   start     -> first launch (no storage file yet): background.js's
//                runtime.onInstalled listener with reason "install"
//                (background.js:18-42); every launch then does what the
//                options page's init does (options.js:12-16).
//   configure -> the options page's saveConfig (options.js:50-71):
//                app.sync.setConfig({serverUrl, autoSync:false}), then
//                app.profiles.enableSync(profile.id, apiKey, serverProfileId).
//                With no server profile id the extension cannot sync at all
//                (getSyncConfig needs one, profiles.js:205): "the server's
//                default profile" (null) is typed as `default`.
//   create    -> app.datastore.addItem(type, {content, metadata}), then
//                getOrCreateTag + tagItem per tag. The extension has no item
//                UI of its own; api.js is the surface its pages call.
//   update    -> app.datastore.updateItem(id, {content}); tags by
//                tagItem/untagItem, which do NOT touch the item's updatedAt
//                (datastore.js:328-376): the lowest real functions the API
//                offers for tags.
//   tag       -> getOrCreateTag + tagItem.   delete -> deleteItem.
//   sync      -> full: app.sync.syncAll() (options.js:178); pull:
//                app.sync.pull() (options.js:134); push: app.sync.push()
//                (options.js:156). Neither pull nor push moves the cursor.
//   items     -> queryItems({includeDeleted}) + getItemTags.
//   seed_row  -> a raw IndexedDB put of the row addItem would make, with no
//                app code path (the analogue of the e2e scripts' SQL).
//   restart   -> in-process (the suite's protocol-1 restart): dump, close,
//                then a fresh fake-indexeddb factory restored from the dump
//                and the start-up again. Protocol 2 re-execs.

import * as kit from '../node-kit/kit.mjs';
import { chrome, useStorageFile } from './stubs/chrome.mjs';
import { IDBFactory } from 'fake-indexeddb';
import 'fake-indexeddb/auto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import app from '@original/backend/extension/api.js';
import '@original/backend/extension/background.js';
import { openDatabase, closeDatabase, getRawDb } from '@original/backend/extension/datastore.js';
import { _resetCache } from '@original/backend/extension/environment.js';

const { Refused, SyncFailed, log } = kit;

const STORES = ['items', 'tags', 'item_tags', 'extension_settings'];
let dataDir = null;
const dumpFile = () => join(dataDir, 'indexeddb.json');

// ------------------------------------------------------------ persistence

const done = (req) =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
const complete = (txn) =>
  new Promise((resolve, reject) => {
    txn.oncomplete = () => resolve();
    txn.onerror = () => reject(txn.error);
    txn.onabort = () => reject(txn.error || new Error('transaction aborted'));
  });

function openDb() {
  try {
    return getRawDb();
  } catch {
    return null; // not opened (yet, or closed)
  }
}

async function dump() {
  const db = openDb();
  if (!db) return;
  const txn = db.transaction(STORES, 'readonly');
  const out = {};
  await Promise.all(STORES.map(async (s) => (out[s] = await done(txn.objectStore(s).getAll()))));
  await complete(txn);
  const tmp = `${dumpFile()}.tmp`;
  writeFileSync(tmp, JSON.stringify(out));
  renameSync(tmp, dumpFile());
}

async function restore() {
  if (!existsSync(dumpFile())) return false;
  const saved = JSON.parse(readFileSync(dumpFile(), 'utf8'));
  const txn = getRawDb().transaction(STORES, 'readwrite');
  for (const s of STORES) for (const row of saved[s] || []) txn.objectStore(s).put(row);
  await complete(txn);
  return true;
}

// ------------------------------------------------------------ start-up

async function launch() {
  const known = useStorageFile(join(dataDir, 'chrome-storage-local.json'));
  await openDatabase();
  const restored = await restore();
  if (!known) {
    // First run: the service worker's install handler (awaited here; the
    // browser does not await it, but nothing else runs before it ends).
    for (const fn of chrome.runtime.onInstalled.listeners) await fn({ reason: 'install' });
  }
  // The options page's init (options.js:14-15).
  await openDatabase();
  await app.profiles.ensureDefault();
  log(`launched: ${known ? 'storage kept' : 'first install'}${restored ? ', IndexedDB restored' : ''}`);
}

async function close() {
  await dump();
  closeDatabase();
}

// ------------------------------------------------------------ helpers

/** Unwraps `{success, data|error}`; a failure throws `Err`. */
async function ok(promise, what, Err = Error) {
  const r = await promise;
  if (!r || r.success !== true) throw new Err(`${what}: ${r && r.error ? r.error : JSON.stringify(r)}`);
  return r.data;
}

async function liveItem(id) {
  const it = await ok(app.datastore.getItem(id), 'getItem');
  if (!it) throw new Refused(`no such item ${id}`);
  return it;
}

async function tagByName(itemId, name) {
  const { tag } = await ok(app.datastore.getOrCreateTag(name), 'getOrCreateTag');
  await ok(app.datastore.tagItem(itemId, tag.id), 'tagItem');
}

async function setTags(itemId, names) {
  const current = await ok(app.datastore.getItemTags(itemId), 'getItemTags');
  const want = new Set(names.map((n) => n.trim().toLowerCase()));
  for (const t of current) {
    if (!want.has(t.name.toLowerCase())) await ok(app.datastore.untagItem(itemId, t.id), 'untagItem');
  }
  const have = new Set(current.map((t) => t.name.toLowerCase()));
  for (const n of names) if (!have.has(n.trim().toLowerCase())) await tagByName(itemId, n);
}

const TYPES = ['url', 'text', 'tagset', 'image'];

// ------------------------------------------------------------ commands

const commands = {
  async configure(r) {
    if (typeof r.serverUrl !== 'string' || typeof r.apiKey !== 'string') {
      throw new Refused('configure needs serverUrl and apiKey');
    }
    await ok(app.sync.setConfig({ serverUrl: r.serverUrl.trim(), autoSync: false }), 'setConfig', Refused);
    const profile = await ok(app.profiles.getCurrent(), 'getCurrent');
    await ok(app.profiles.enableSync(profile.id, r.apiKey.trim(), (r.serverProfileId || 'default').trim()), 'enableSync', Refused);
    return {};
  },

  async create(r) {
    if (!TYPES.includes(r.type)) throw new Refused(`unknown type ${r.type}`);
    const options = {};
    if (r.content !== undefined && r.content !== null) options.content = r.content;
    if (typeof r.metadata === 'string') options.metadata = r.metadata;
    const { id } = await ok(app.datastore.addItem(r.type, options), 'addItem');
    for (const name of r.tags || []) await tagByName(id, name);
    return { id };
  },

  async update(r) {
    await liveItem(r.item);
    if (r.content !== undefined && r.content !== null) {
      await ok(app.datastore.updateItem(r.item, { content: r.content }), 'updateItem');
    }
    if (Array.isArray(r.tags)) await setTags(r.item, r.tags);
    return {};
  },

  async delete(r) {
    await liveItem(r.item);
    await ok(app.datastore.deleteItem(r.item), 'deleteItem');
    return {};
  },

  async tag(r) {
    await liveItem(r.item);
    await tagByName(r.item, r.tag);
    return {};
  },

  async sync(r) {
    const mode = r.mode || 'full';
    const run = { full: () => app.sync.syncAll(), pull: () => app.sync.pull(), push: () => app.sync.push() }[mode];
    if (!run) throw new Refused(`unknown mode ${mode}`);
    let d;
    try {
      d = await ok(run(), `sync ${mode}`, SyncFailed);
    } catch (e) {
      if (e instanceof SyncFailed) throw e;
      throw new SyncFailed(e && e.message ? e.message : String(e));
    }
    return { pulled: d.pulled ?? 0, pushed: d.pushed ?? 0 };
  },

  async items(r) {
    const rows = await ok(app.datastore.queryItems({ includeDeleted: Boolean(r.includeDeleted) }), 'queryItems');
    const out = [];
    for (const it of rows) {
      const tags = (await ok(app.datastore.getItemTags(it.id), 'getItemTags')).map((t) => t.name).sort();
      out.push({
        id: it.id,
        type: it.type,
        content: it.content ?? null,
        tags,
        deleted: Boolean(it.deletedAt),
        syncId: it.syncId || '',
        metadata: it.metadata ?? undefined,
      });
    }
    return { items: out };
  },

  async seed_row(r) {
    if (!TYPES.includes(r.type)) throw new Refused(`unknown type ${r.type}`);
    const db = getRawDb();
    const id = crypto.randomUUID();
    const now = Date.now();
    const txn = db.transaction(['items', 'tags', 'item_tags'], 'readwrite');
    txn.objectStore('items').put({
      id,
      type: r.type,
      content: r.content ?? null,
      mimeType: '',
      metadata: '{}',
      syncId: r.syncId || '',
      syncSource: '',
      syncedAt: 0,
      createdAt: now,
      updatedAt: now,
      deletedAt: 0,
      starred: 0,
      archived: 0,
      visitCount: 0,
      lastVisitAt: 0,
    });
    const tags = await done(txn.objectStore('tags').getAll());
    for (const name of r.tags || []) {
      let tag = tags.find((t) => t.name === name);
      if (!tag) {
        tag = { id: `tag-${crypto.randomUUID()}`, name, slug: name, color: '#999999', parentId: '', description: '', metadata: '{}', createdAt: now, updatedAt: now, frequency: 0, lastUsedAt: 0, frecencyScore: 0 };
        txn.objectStore('tags').put(tag);
        tags.push(tag);
      }
      txn.objectStore('item_tags').put({ id: `it-${crypto.randomUUID()}`, itemId: id, tagId: tag.id, createdAt: now });
    }
    await complete(txn);
    return { id };
  },

  async restart() {
    await close();
    // A new browser session: a fresh IndexedDB factory, restored from the dump.
    globalThis.indexedDB = new IDBFactory();
    _resetCache();
    await launch();
    return {};
  },

  async shutdown() {
    await close();
    return {};
  },
};

const source = kit.readSource(import.meta.url);

await kit.run({
  name: 'original-extension 0.1 (backend/extension, fake-indexeddb)',
  source,
  capabilities: {
    restart: 'reexec',
    syncModes: ['full', 'pull', 'push'],
    clock: 'offset',
    profiles: 'id',
    metadata: true,
    concurrent: true,
    seed: true,
  },
  async start(dir) {
    dataDir = dir;
    await launch();
  },
  commands,
  async afterCommand(cmd) {
    if (cmd !== 'shutdown' && cmd !== 'restart') await dump();
  },
});

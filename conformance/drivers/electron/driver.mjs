// Conformance driver for the original Electron desktop app: the IPC handlers
// registered by backend/electron/ipc.ts (the app's entry points), over the
// real sync.ts, datastore.ts and profiles.ts with better-sqlite3, speaking
// driver protocol 2 (docs/driver-protocol.md) through ../node-kit/kit.mjs.
//
// The original code is not in this repository: build.sh bundles it from
// $PEEK_ORIGINAL_DIR (imports named `@original/...`) with `electron` aliased
// to ./stubs/electron.mjs.
//
// Mapping (what the app's renderer sends through preload.js):
//   configure -> `sync-set-config` {serverUrl, apiKey} (the Settings > Sync
//                fields, app/settings/settings.js:626,648), then, when the
//                server profile differs, `profiles:enableSync` (the Profiles
//                dialog, settings.js:2051). That dialog refuses an empty
//                server profile id, so "the server's default profile" (null)
//                is entered as `default` -- what setSyncConfig itself stores
//                when none is set (sync.ts:186).
//   create    -> `datastore-add-item` {type, options:{content, metadata}};
//                tags by `datastore-get-or-create-tag` + `datastore-tag-item`
//                (app/cmd/commands/note.js:31-43). The id is the handler's
//                answer `data.id`.
//   update    -> `datastore-update-item` {id, options:{content}} for content
//                (extensions/editor/home.js:702); tags by
//                `datastore-tag-item` / `datastore-untag-item` as the editor's
//                tag chips do (home.js:818,833): these do NOT touch the item's
//                updatedAt (datastore.ts:1546-1584), as in the app (D35).
//   tag       -> get-or-create-tag + `datastore-tag-item` (cmd tag.js:56).
//   delete    -> `datastore-delete-item` (editor home.js:761).
//   sync      -> full: `sync-full`; pull: `sync-pull`; push: `sync-push`
//                (settings.js:872-880). `sync-pull`/`sync-push` set the
//                cursor themselves (ipc.ts:2579-2623), `sync-full` through
//                syncAll (sync.ts:657-705): used as the app does.
//   items     -> `datastore-query-items` {filter:{includeDeleted}} and
//                `datastore-get-item-tags`.
//   seed_row  -> a plain SQL insert into datastore.sqlite, as
//                scripts/e2e-full-sync-test.sh:211-236 does.
//   restart   -> in-process: close the databases and run the start-up again
//                (the suite's protocol-1 restart). Protocol 2 re-execs.
//
// State in dataDir: profiles.db (profiles, API key, server profile, cursor)
// and default/datastore.sqlite (items, server URL, server-change markers),
// exactly where a packaged app keeps them under its userData directory.

import * as kit from '../node-kit/kit.mjs';
import * as electron from './stubs/electron.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

import { registerAllHandlers } from '@original/backend/electron/ipc.ts';
import { configure as configureApp, initialize, shutdown as shutdownApp } from '@original/backend/electron/main.ts';
import {
  initProfilesDb,
  migrateExistingProfiles,
  ensureDefaultProfile,
  getActiveProfile,
  closeProfilesDb,
} from '@original/backend/electron/profiles.ts';
import { setProfile } from '@original/backend/electron/config.ts';
import { getDb } from '@original/backend/electron/datastore.ts';

const { Refused, SyncFailed, Unsupported, log } = kit;

// ------------------------------------------------------------ start-up

let dataDir = null;

// The packaged app's launch (entry.ts:133-183, 240-255; main.ts:67-91).
async function launch() {
  electron.setUserDataPath(dataDir);
  initProfilesDb(dataDir, 'profiles.db'); // packaged build: profiles.db
  migrateExistingProfiles();
  ensureDefaultProfile();
  const profile = getActiveProfile().folder;
  setProfile(profile);
  mkdirSync(join(dataDir, profile, 'chromium'), { recursive: true });
  configureApp({
    rootDir: dataDir,
    preloadPath: '',
    userDataPath: dataDir,
    profile,
    isDev: false,
    isTest: false,
  });
  await initialize();
  registerAllHandlers(() => {});
  log(`launched: profile ${profile}, ${electron.handlers.size} IPC handlers`);
}

async function close() {
  await shutdownApp(); // publishes app:shutdown, closes datastore.sqlite
  closeProfilesDb();
}

// ------------------------------------------------------------ IPC

/** Calls an IPC handler as the renderer's `ipcRenderer.invoke` would. */
async function invoke(channel, data) {
  const h = electron.handlers.get(channel);
  if (!h) throw new Error(`no IPC handler ${channel}`);
  const event = { sender: { id: 0 }, senderFrame: null };
  return h(event, data);
}

/** invoke + unwrap `{success, data|error}`; a failure throws `Err`. */
async function call(channel, data, Err = Error) {
  const r = await invoke(channel, data);
  if (!r || r.success !== true) throw new Err(`${channel}: ${r && r.error ? r.error : JSON.stringify(r)}`);
  return r.data;
}

async function liveItem(id) {
  const it = await call('datastore-get-item', { id });
  if (!it) throw new Refused(`no such item ${id}`);
  return it;
}

async function tagByName(itemId, name) {
  const { tag } = await call('datastore-get-or-create-tag', { name });
  await call('datastore-tag-item', { itemId, tagId: tag.id });
}

async function setTags(itemId, names) {
  const current = await call('datastore-get-item-tags', { itemId });
  const want = new Set(names.map((n) => n.toLowerCase()));
  for (const t of current) {
    if (!want.has(t.name.toLowerCase())) await call('datastore-untag-item', { itemId, tagId: t.id });
  }
  const have = new Set(current.map((t) => t.name.toLowerCase()));
  for (const n of names) if (!have.has(n.toLowerCase())) await tagByName(itemId, n);
}

// ------------------------------------------------------------ commands

const commands = {
  async configure(r) {
    if (typeof r.serverUrl !== 'string' || typeof r.apiKey !== 'string') {
      throw new Refused('configure needs serverUrl and apiKey');
    }
    const res = await invoke('sync-set-config', { serverUrl: r.serverUrl, apiKey: r.apiKey });
    if (!res || !res.success) throw new Refused(`sync-set-config: ${res && res.error}`);
    const want = r.serverProfileId || 'default';
    const profile = await call('profiles:getCurrent', undefined);
    const cfg = await call('profiles:getSyncConfig', { profileId: profile.id });
    if (!cfg || cfg.serverProfileId !== want || cfg.apiKey !== r.apiKey) {
      await call('profiles:enableSync', { profileId: profile.id, apiKey: r.apiKey, serverProfileSlug: want }, Refused);
    }
    return {};
  },

  async create(r) {
    if (!['url', 'text', 'tagset', 'image'].includes(r.type)) throw new Refused(`unknown type ${r.type}`);
    const options = {};
    if (r.content !== undefined && r.content !== null) options.content = r.content;
    if (typeof r.metadata === 'string') options.metadata = r.metadata;
    const { id } = await call('datastore-add-item', { type: r.type, options });
    for (const name of r.tags || []) await tagByName(id, name);
    return { id };
  },

  async update(r) {
    await liveItem(r.item);
    if (r.content !== undefined && r.content !== null) {
      await call('datastore-update-item', { id: r.item, options: { content: r.content } });
    }
    if (Array.isArray(r.tags)) await setTags(r.item, r.tags);
    return {};
  },

  async delete(r) {
    await liveItem(r.item);
    await call('datastore-delete-item', { id: r.item });
    return {};
  },

  async tag(r) {
    await liveItem(r.item);
    await tagByName(r.item, r.tag);
    return {};
  },

  async sync(r) {
    const mode = r.mode || 'full';
    const channel = { full: 'sync-full', pull: 'sync-pull', push: 'sync-push' }[mode];
    if (!channel) throw new Refused(`unknown mode ${mode}`);
    const d = await call(channel, {}, SyncFailed);
    return { pulled: d.pulled ?? 0, pushed: d.pushed ?? 0 };
  },

  async items(r) {
    const rows = await call('datastore-query-items', { filter: { includeDeleted: Boolean(r.includeDeleted) } });
    const out = [];
    for (const it of rows) {
      const tags = (await call('datastore-get-item-tags', { itemId: it.id })).map((t) => t.name).sort();
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

  // The e2e scripts' direct SQL seed (scripts/e2e-full-sync-test.sh:211-236):
  // no app code path, no sync id unless given, markers empty.
  async seed_row(r) {
    if (!['url', 'text', 'tagset', 'image'].includes(r.type)) throw new Refused(`unknown type ${r.type}`);
    const db = getDb();
    const id = randomUUID();
    const now = Date.now();
    db.prepare(
      `INSERT INTO items (id, type, content, metadata, syncId, syncSource, syncedAt, createdAt, updatedAt, deletedAt)
       VALUES (?, ?, ?, '{}', ?, '', 0, ?, ?, 0)`,
    ).run(id, r.type, r.content ?? null, r.syncId || '', now, now);
    for (const name of r.tags || []) {
      let tag = db.prepare('SELECT id FROM tags WHERE name = ?').get(name);
      if (!tag) {
        tag = { id: `tag-${randomUUID()}` };
        db.prepare('INSERT INTO tags (id, name, slug, createdAt) VALUES (?, ?, ?, ?)').run(tag.id, name, name, now);
      }
      db.prepare('INSERT INTO item_tags (id, itemId, tagId, createdAt) VALUES (?, ?, ?, ?)').run(
        `it-${randomUUID()}`,
        id,
        tag.id,
        now,
      );
    }
    return { id };
  },

  async restart() {
    await close();
    electron.handlers.clear();
    electron.listeners.clear();
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
  name: 'original-electron 0.1 (backend/electron/ipc.ts, better-sqlite3)',
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
});

export { Unsupported };

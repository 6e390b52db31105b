// Stand-in for the `chrome` extension APIs the original extension's
// background.js, sync.js, profiles.js and environment.js use, installed as
// globalThis.chrome before they load.
//
// - chrome.storage.local: get/set/remove with Chrome's argument forms
//   (null, a key, an array of keys, an object of defaults); values are
//   copied through JSON as Chrome serialises them. Persisted to a JSON file
//   in the device's dataDir on every write, so a re-exec restart finds it.
// - chrome.runtime.getManifest: the extension's manifest.json (bundled from
//   the checkout); onInstalled/onMessage record listeners the driver fires.
// - chrome.alarms: recorded, never fired (the driver syncs on command).
// - openOptionsPage and the rest: inert.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import manifest from '@original/backend/extension/manifest.json';

let file = null;
let data = {};

/** Loads (or starts) chrome.storage.local from `path`. */
export function useStorageFile(path) {
  file = path;
  data = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  return existsSync(path);
}

function persist() {
  if (!file) return;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(data));
  renameSync(tmp, file);
}

const copy = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

const local = {
  async get(keys) {
    if (keys === null || keys === undefined) return copy(data);
    const out = {};
    if (typeof keys === 'string') keys = [keys];
    if (Array.isArray(keys)) {
      for (const k of keys) if (k in data) out[k] = copy(data[k]);
      return out;
    }
    for (const [k, dflt] of Object.entries(keys)) out[k] = k in data ? copy(data[k]) : dflt;
    return out;
  },
  async set(items) {
    for (const [k, v] of Object.entries(items)) data[k] = copy(v);
    persist();
  },
  async remove(keys) {
    for (const k of Array.isArray(keys) ? keys : [keys]) delete data[k];
    persist();
  },
  async clear() {
    data = {};
    persist();
  },
};

function event() {
  const listeners = [];
  return {
    listeners,
    addListener: (fn) => listeners.push(fn),
    removeListener: (fn) => {
      const i = listeners.indexOf(fn);
      if (i >= 0) listeners.splice(i, 1);
    },
    hasListener: (fn) => listeners.includes(fn),
  };
}

export const chrome = {
  storage: { local },
  runtime: {
    getManifest: () => copy(manifest),
    onInstalled: event(),
    onStartup: event(),
    onMessage: event(),
    openOptionsPage: () => {},
    id: 'peek-conformance-driver',
  },
  alarms: {
    create: () => {},
    clear: async () => true,
    onAlarm: event(),
  },
};

globalThis.chrome = chrome;

// Stand-in for the `electron` module, so that backend/electron/ipc.ts (and
// what it imports) loads in plain Node. `ipcMain.handle`/`on` record the
// handlers: they are the app's entry points the driver calls. `app.getPath`
// answers the driver's data directory. Everything else is inert: any
// property is a function returning an inert value, so window, tray and
// protocol code that runs at start-up does nothing.

export const handlers = new Map(); // channel -> handler(event, data)
export const listeners = new Map(); // channel -> [listener(event, data)]
let userData = null;

/** Set by the driver before the app's start-up code runs. */
export function setUserDataPath(p) {
  userData = p;
}

function inert(name) {
  const fn = function () {
    return inert(`${name}()`);
  };
  return new Proxy(fn, {
    get(_t, prop) {
      if (prop === 'then') return undefined; // not a promise
      if (prop === Symbol.toPrimitive) return () => '';
      if (prop === Symbol.iterator) return function* () {};
      return inert(`${name}.${String(prop)}`);
    },
    set() {
      return true;
    },
  });
}

export const ipcMain = {
  handle(channel, fn) {
    handlers.set(channel, fn);
  },
  removeHandler(channel) {
    handlers.delete(channel);
  },
  on(channel, fn) {
    if (!listeners.has(channel)) listeners.set(channel, []);
    listeners.get(channel).push(fn);
    return ipcMain;
  },
  removeAllListeners(channel) {
    listeners.delete(channel);
    return ipcMain;
  },
};

const appBase = {
  getPath(name) {
    if (!userData) throw new Error('electron stub: userData path not set');
    return userData;
  },
  setPath() {},
  isPackaged: true, // a packaged build: profiles.db, active profile (entry.ts:133-139)
  dock: undefined,
  getVersion: () => '0.0.0-driver',
  getName: () => 'Peek',
  on() {
    return app;
  },
  once() {
    return app;
  },
  whenReady: () => Promise.resolve(),
  relaunch() {},
  quit() {},
  exit() {},
};
export const app = new Proxy(appBase, {
  get(t, prop) {
    return prop in t ? t[prop] : inert(`app.${String(prop)}`);
  },
});

export const BrowserWindow = new Proxy(
  class BrowserWindow {
    static getAllWindows() {
      return [];
    }
    static getFocusedWindow() {
      return null;
    }
    static fromId() {
      return null;
    }
    static fromWebContents() {
      return null;
    }
  },
  {},
);

export const nativeTheme = inert('nativeTheme');
export const dialog = inert('dialog');
export const screen = inert('screen');
export const shell = inert('shell');
export const protocol = inert('protocol');
export const net = inert('net');
export const globalShortcut = inert('globalShortcut');
export const Menu = inert('Menu');
export const Tray = inert('Tray');
export const nativeImage = inert('nativeImage');
export const session = inert('session');
export const webContents = inert('webContents');

export default {
  ipcMain,
  app,
  BrowserWindow,
  nativeTheme,
  dialog,
  screen,
  shell,
  protocol,
  net,
  globalShortcut,
  Menu,
  Tray,
  nativeImage,
  session,
  webContents,
};

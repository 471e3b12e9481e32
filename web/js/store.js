// The live state of the agent, fed by GET /api/stream (server-sent events, see
// docs/API.md): a snapshot, then app/monitored/event/system changes. The browser's
// EventSource resumes with Last-Event-ID after a network blip; when it gives up (the
// agent restarted, a proxy closed it) we reconnect ourselves with ?last_event_id=N.
// Nothing here polls: without the stream the panel shows what it loaded once and says
// that live updates are off.
import { api } from './api.js';

const HISTORY_SECONDS = 600;   // usage kept per app for the charts (last 10 minutes)
const HISTORY_POINTS = 600;    // at most this many samples per app (bounded memory)
const EVENTS_KEPT = 200;

export const state = {
  apps: new Map(),        // name -> GET /api/apps object
  monitored: new Map(),   // key -> GET /api/monitored object
  system: null,           // {systemd_reachable, degraded, missing}
  events: [],             // newest first
  usage: new Map(),       // name -> [{t, cpu, mem}]
  version: 0,
  connection: 'connecting', // connecting | live | lost | unavailable
  connectionDetail: '',
  loaded: false,
};

const listeners = new Set();
let scheduled = false;
const dirty = new Set();
export function subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); }
function changed(what) {
  dirty.add(what);
  if (scheduled) return;
  scheduled = true;
  // Coalesce bursts (a snapshot of 200 apps, a flood of usage updates) into one render per frame.
  requestAnimationFrame(() => {
    scheduled = false;
    const what = new Set(dirty);
    dirty.clear();
    for (const fn of listeners) {
      try { fn(what); } catch (e) { console.error(e); }
    }
  });
}

function recordUsage(app, now) {
  if (app.cpu_usage === undefined && app.memory_usage === undefined) return;
  let h = state.usage.get(app.name);
  if (!h) { h = []; state.usage.set(app.name, h); }
  const last = h[h.length - 1];
  if (last && now - last.t < 500) { last.cpu = app.cpu_usage; last.mem = app.memory_usage; return; }
  h.push({ t: now, cpu: app.cpu_usage ?? null, mem: app.memory_usage ?? null });
  while (h.length > HISTORY_POINTS || (h.length && now - h[0].t > HISTORY_SECONDS * 1000)) h.shift();
}

/// Merges an app object (from the stream or from an operation's answer).
export function putApp(app) {
  state.apps.set(app.name, app);
  recordUsage(app, Date.now());
  changed('apps');
}
export function removeApp(name) {
  state.apps.delete(name);
  state.usage.delete(name);
  changed('apps');
}

function applySnapshot(d) {
  state.apps = new Map();
  for (const a of d.apps || []) { state.apps.set(a.name, a); recordUsage(a, Date.now()); }
  for (const name of [...state.usage.keys()]) if (!state.apps.has(name)) state.usage.delete(name);
  state.monitored = new Map((d.monitored || []).map((m) => [m.key ?? m.id, m]));
  if (d.system) state.system = d.system;
  state.loaded = true;
  changed('apps'); changed('monitored'); changed('system');
}

const handlers = {
  snapshot: applySnapshot,
  app: (d) => putApp(d.app),
  app_removed: (d) => removeApp(d.name),
  monitored: (d) => { const p = d.process; state.monitored.set(p.key ?? p.id, p); changed('monitored'); },
  monitored_removed: (d) => { state.monitored.delete(d.id ?? d.key); changed('monitored'); },
  event: (d) => {
    state.events.unshift(d.event);
    if (state.events.length > EVENTS_KEPT) state.events.length = EVENTS_KEPT;
    changed('events');
  },
  system: (d) => { state.system = { systemd_reachable: d.systemd_reachable, degraded: d.degraded, missing: d.missing }; changed('system'); },
};

let source = null;
let retryTimer = null;
let retryDelay = 1000;

function setConnection(c, detail) {
  state.connection = c;
  state.connectionDetail = detail || '';
  changed('connection');
}

export function connect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  const url = state.version ? '/api/stream?last_event_id=' + state.version : '/api/stream';
  setConnection(state.version ? 'lost' : 'connecting', 'connecting…');
  const es = new EventSource(url, { withCredentials: true });
  source = es;
  es.onopen = () => { retryDelay = 1000; setConnection('live'); };
  for (const [type, fn] of Object.entries(handlers)) {
    es.addEventListener(type, (ev) => {
      let d;
      try { d = JSON.parse(ev.data); } catch { return; }
      if (ev.lastEventId) state.version = Number(ev.lastEventId) || state.version;
      else if (d.version) state.version = d.version;
      fn(d);
    });
  }
  es.onerror = () => {
    if (source !== es) return;
    if (es.readyState === EventSource.CONNECTING) { setConnection('lost', 'reconnecting…'); return; }
    // Closed for good by the browser (an HTTP error such as 401/404/503): find out why.
    es.close();
    source = null;
    diagnose();
  };
}

async function diagnose() {
  let status = 0;
  const ctl = new AbortController();
  try {
    status = (await fetch('/api/stream', { credentials: 'same-origin', signal: ctl.signal })).status;
  } catch { status = 0; }
  ctl.abort();
  if (status === 404) {
    setConnection('unavailable', 'this agent has no live stream: showing the state loaded at page load');
    if (!state.loaded) await loadOnce();
    return;
  }
  if (status === 401) { location.assign('/login?next=' + encodeURIComponent(location.pathname)); return; }
  setConnection('lost', status ? 'the agent answered ' + status : 'the agent cannot be reached');
  retryTimer = setTimeout(connect, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 30000);
}

/// Without a stream: one read of the lists (never a poll), refreshed after the user's own operations.
export async function loadOnce() {
  const [apps, monitored, system] = await Promise.all([
    api.get('/api/apps'), api.get('/api/monitored').catch(() => []), api.get('/api/system').catch(() => null)]);
  applySnapshot({ apps, monitored, system });
}

export function live() { return state.connection === 'live'; }

export function retryNow() { retryDelay = 1000; connect(); }

/// /api/system once at start (the banner's details; the stream keeps it current).
export async function loadSystem() {
  try {
    const s = await api.get('/api/system');
    state.system = Object.assign({}, state.system || {}, s);
    changed('system');
  } catch { /* shown by the connection indicator */ }
}

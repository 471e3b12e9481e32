// Lifecycle operations from the panel: progress while they run, confirmation for stop
// and delete, the server's message on failure. Shared by the dashboard and the app page.
import { api, enc } from './api.js';
import { confirmDialog, errorText } from './ui.js';
import * as store from './store.js';

const busy = new Map();  // app -> verb running
export function running(name) { return busy.get(name); }

const LABEL = { start: 'Starting…', stop: 'Stopping…', restart: 'Restarting…', delete: 'Deleting…' };

/// Runs `verb` on app `name`; `report(error|null, message)` shows the outcome.
export async function run(name, verb, button, report) {
  if (busy.has(name)) return;
  if (verb === 'stop' && !(await confirmDialog('Stop ' + name + '?', 'Stop'))) return;
  if (verb === 'delete' && !(await confirmDialog('Delete ' + name + '? Its unit is stopped, disabled and removed.', 'Delete'))) return;
  busy.set(name, verb);
  const text = button ? button.textContent : '';
  if (button) { button.textContent = LABEL[verb] || '…'; button.setAttribute('aria-busy', 'true'); }
  notify();
  try {
    if (verb === 'delete') {
      await api.del('/api/apps/' + enc(name));
      store.removeApp(name);
      report(null, name + ' deleted');
    } else {
      const r = await api.post('/api/apps/' + enc(name) + '/' + verb);
      if (r && r.state) store.putApp(Object.assign({}, store.state.apps.get(name) || {}, r.state));
      report(null, name + ': ' + verb + ' done');
    }
  } catch (e) {
    report(e, name + ': ' + verb + ' failed: ' + errorText(e));
  } finally {
    busy.delete(name);
    if (store.state.connection === 'unavailable') store.loadOnce().catch(() => {});  // no stream: read once
    if (button) { button.textContent = text; button.removeAttribute('aria-busy'); }
    notify();
  }
}

const watchers = new Set();
export function onBusyChange(fn) { watchers.add(fn); return () => watchers.delete(fn); }
function notify() { for (const fn of watchers) fn(); }

// /select: choose which unmanaged Node.js/Python processes the agent monitors. The
// choice is kept by the agent (its registry), so it survives reloads and restarts.
import { api, can, enc } from './api.js';
import { h, fmtBytes, statusPill, alertBox, errorText } from './ui.js';

export function render(main) {
  const note = h('div', { 'aria-live': 'polite' });
  const cur = h('tbody');
  const cand = h('tbody');
  main.append(h('h1', null, 'Monitored processes'), note,
    h('h2', null, 'Monitored now'),
    h('div', { class: 'tablewrap' }, h('table', { id: 'monitored-now' },
      h('thead', null, h('tr', null, ['Name', 'User', 'Status', 'Command', ''].map((t) => h('th', { scope: 'col' }, t)))), cur)),
    h('h2', null, 'Node.js and Python processes not managed by the agent'),
    h('div', { class: 'tablewrap' }, h('table', { id: 'candidates' },
      h('thead', null, h('tr', null, ['Monitor', 'PID', 'User', 'RAM', 'Command'].map((t) => h('th', { scope: 'col' }, t)))), cand)));

  const fail = (e) => note.replaceChildren(alertBox(errorText(e)));
  async function load() {
    let monitored, scan;
    try { [monitored, scan] = await Promise.all([api.get('/api/monitored'), api.get('/api/scan?kind=all')]); } catch (e) { fail(e); return; }
    cur.replaceChildren(...monitored.map((m) => h('tr', { 'data-key': m.key },
      h('td', null, m.name), h('td', null, m.user), h('td', null, statusPill(m.status)),
      h('td', null, h('code', null, Array.isArray(m.command) ? m.command.join(' ') : m.command)),
      h('td', null, h('button', { type: 'button', disabled: !can.operate(), onclick: (ev) => unwatch(m.key, ev.currentTarget) }, 'Stop monitoring')))));
    if (!monitored.length) cur.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'Nothing yet: tick a process below.')));
    const free = scan.filter((p) => !p.managed_app);
    cand.replaceChildren(...free.map((p) => {
      const box = h('input', { type: 'checkbox', checked: p.monitored, disabled: !can.operate(),
        'aria-label': 'Monitor pid ' + p.pid + ' ' + (p.command || p.name), dataset: { pid: p.pid } });
      box.addEventListener('change', () => (box.checked ? watch(p, box) : unwatch(p.monitor_key, box)));
      return h('tr', { 'data-pid': p.pid }, h('td', null, box), h('td', { class: 'num' }, p.pid), h('td', null, p.user),
        h('td', { class: 'num' }, fmtBytes(p.memory_bytes)), h('td', null, h('code', null, p.command || p.cmdline || p.name)));
    }));
    if (!free.length) cand.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No unmanaged Node.js or Python process is running.')));
  }
  async function watch(p, el) {
    el.disabled = true;
    try { await api.post('/api/monitored', { pid: p.pid }); note.replaceChildren(alertBox('Monitoring pid ' + p.pid, true)); await load(); } catch (e) { el.checked = false; fail(e); } finally { el.disabled = false; }
  }
  async function unwatch(key, el) {
    el.disabled = true;
    try { await api.del('/api/monitored?key=' + enc(key)); note.replaceChildren(alertBox('No longer monitored', true)); await load(); } catch (e) { fail(e); } finally { el.disabled = false; }
  }
  load();
}

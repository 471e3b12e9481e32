// The dashboard: every app with its live status, usage and actions, and the monitored
// (unmanaged) processes. Rows are updated in place when the stream reports a change.
import { can, enc } from './api.js';
import { h, put, fmtBytes, fmtPct, fmtDuration, uptimeNow, statusPill, STATUS_PROBLEMS, alertBox } from './ui.js';
import * as store from './store.js';
import * as actions from './actions.js';

export function render(main) {
  const note = h('div', { id: 'dash-note', 'aria-live': 'polite' });
  const body = h('tbody');
  const monBody = h('tbody');
  const empty = h('p', { class: 'muted', hidden: true }, 'No apps yet. ',
    h('a', { href: '/apps/new' }, 'Register one'), ', or start the agent with the demo option (scripts/run.sh --demo).');
  const filter = h('input', { type: 'search', placeholder: 'Filter by name or status', 'aria-label': 'Filter apps' });
  const count = h('span', { class: 'muted' });
  main.append(
    h('h1', null, 'Apps'),
    h('div', { class: 'toolbar' }, filter, count, can.admin() ? h('a', { class: 'btn', href: '/apps/new' }, 'Register an app') : null),
    note,
    h('div', { class: 'tablewrap' }, h('table', { id: 'apps' },
      h('caption', { class: 'skip' }, 'Managed apps'),
      h('thead', null, h('tr', null, ['Name', 'Runtime', 'Status', 'PID', 'CPU', 'RAM', 'Uptime', 'Restarts', 'Actions']
        .map((t, i) => h('th', { scope: 'col', class: i >= 3 && i <= 7 ? (i === 6 || i === 7 ? 'num hide-narrow' : 'num') : (i === 1 ? 'hide-narrow' : null) }, t)))),
      body)),
    empty,
    h('h2', null, 'Monitored processes ', h('span', { class: 'tag' }, 'not managed by siax-agent')),
    h('div', { class: 'tablewrap' }, h('table', { id: 'monitored' },
      h('thead', null, h('tr', null, ['Name', 'User', 'Status', 'PID', 'CPU', 'RAM', 'Uptime', 'Command']
        .map((t) => h('th', { scope: 'col' }, t)))),
      monBody)),
    h('p', { class: 'hint' }, 'Choose processes to watch on the ', h('a', { href: '/select' }, 'Monitored'), ' page.'));

  const rows = new Map();  // name -> {tr, key}
  const report = (err, msg) => note.replaceChildren(alertBox(msg, !err));

  function rowFor(app) {
    const cells = {};
    const tr = h('tr', { 'data-app': app.name });
    for (const k of ['name', 'runtime', 'status', 'pid', 'cpu', 'mem', 'uptime', 'restarts', 'actions']) {
      cells[k] = h('td', { class: ['pid', 'cpu', 'mem', 'uptime', 'restarts'].includes(k) ? 'num' + (k === 'uptime' || k === 'restarts' ? ' hide-narrow' : '') : (k === 'runtime' ? 'hide-narrow' : null) });
      tr.append(cells[k]);
    }
    return { tr, cells, key: '' };
  }

  const uptimeText = (app) => (app.status === 'running' || app.status === 'unhealthy' ? fmtDuration(uptimeNow(app)) : '–');

  function fill(row, app) {
    const busy = actions.running(app.name);
    const key = JSON.stringify([app.status, app.reason, app.pid, app.cpu_usage, app.memory_usage, app.uptime_seconds, app.restart_count, app.runtime, busy]);
    if (row.key === key) return;
    row.key = key;
    const c = row.cells;
    const problem = STATUS_PROBLEMS.has(app.status) || (app.stray_pids && app.stray_pids.length);
    const reason = app.reason || app.status_error || app.failure || '';
    const reasonEl = h('span', { class: 'reason', hidden: true, id: 'reason-' + app.name }, reason);
    put(c.name, h('a', { href: '/apps/' + enc(app.name) }, app.name),
      problem ? h('button', { type: 'button', class: 'badge' + (app.status === 'unhealthy' ? ' warn' : ''), title: reason || app.status,
        'aria-label': app.status + ': ' + (reason || 'show why'), 'aria-expanded': 'false', 'aria-controls': 'reason-' + app.name,
        onclick: (ev) => { reasonEl.hidden = !reasonEl.hidden; ev.currentTarget.setAttribute('aria-expanded', String(!reasonEl.hidden)); } }, '!') : null,
      problem ? reasonEl : null);
    c.runtime.textContent = app.runtime || '';
    c.status.replaceChildren(statusPill(app.status));
    c.pid.textContent = app.pid ?? '–';
    c.cpu.textContent = fmtPct(app.cpu_usage);
    c.mem.textContent = fmtBytes(app.memory_usage);
    row.app = app;
    c.uptime.textContent = uptimeText(app);
    c.restarts.textContent = app.restart_count ?? '–';
    const act = h('div', { class: 'actions' });
    const btn = (verb, label, cls, need) => {
      const b = h('button', { type: 'button', class: cls, disabled: !!busy || !need(),
        'aria-label': label + ' ' + app.name, title: need() ? null : 'your role may not do this' }, label);
      if (busy === verb) { b.textContent = { start: 'Starting…', stop: 'Stopping…', restart: 'Restarting…', delete: 'Deleting…' }[verb]; b.setAttribute('aria-busy', 'true'); }
      b.addEventListener('click', () => actions.run(app.name, verb, null, report));
      return b;
    };
    act.append(btn('start', 'Start', null, can.operate), btn('stop', 'Stop', null, can.operate),
      btn('restart', 'Restart', null, can.operate),
      h('a', { class: 'btn', href: '/apps/' + enc(app.name) + '/logs', 'aria-label': 'Logs of ' + app.name }, 'Logs'),
      btn('delete', 'Delete', 'danger', can.admin));
    c.actions.replaceChildren(act);
  }

  function update() {
    const q = filter.value.trim().toLowerCase();
    const apps = [...store.state.apps.values()].sort((a, b) => a.name.localeCompare(b.name));
    const shown = apps.filter((a) => !q || a.name.toLowerCase().includes(q) || (a.status || '').includes(q));
    const seen = new Set();
    let prev = null;
    for (const app of shown) {
      let row = rows.get(app.name);
      if (!row) { row = rowFor(app); rows.set(app.name, row); }
      fill(row, app);
      seen.add(app.name);
      const want = prev ? prev.nextSibling : body.firstChild;
      if (want !== row.tr) body.insertBefore(row.tr, want);
      prev = row.tr;
    }
    for (const [name, row] of rows) if (!seen.has(name)) { row.tr.remove(); if (!store.state.apps.has(name)) rows.delete(name); }
    empty.hidden = !store.state.loaded || apps.length > 0;
    count.textContent = store.state.loaded ? apps.length + ' apps' + (q ? ', ' + shown.length + ' shown' : '') : 'loading…';
  }

  function updateMonitored() {
    monBody.replaceChildren(...[...store.state.monitored.values()].map((m) => h('tr', null,
      h('td', null, m.name || m.key, h('span', { class: 'tag' }, 'monitored')),
      h('td', null, m.user || ''), h('td', null, statusPill(m.status)), h('td', { class: 'num' }, m.pid ?? '–'),
      h('td', { class: 'num' }, fmtPct(m.cpu_usage)), h('td', { class: 'num' }, fmtBytes(m.memory_usage)),
      h('td', { class: 'num' }, fmtDuration(m.uptime_seconds)),
      h('td', null, h('code', null, Array.isArray(m.command) ? m.command.join(' ') : (m.command || ''))))));
    if (!store.state.monitored.size) monBody.append(h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'None.')));
  }

  filter.addEventListener('input', update);
  const off = store.subscribe((what) => { if (what.has('apps')) update(); if (what.has('monitored')) updateMonitored(); });
  const offBusy = actions.onBusyChange(update);
  update(); updateMonitored();
  if (store.state.connection === 'unavailable') store.loadOnce().catch((e) => report(e, e.message));
  // Uptimes tick between the agent's updates (an idle app's come once a minute).
  const ticker = setInterval(() => { for (const row of rows.values()) if (row.app) row.cells.uptime.textContent = uptimeText(row.app); }, 1000);
  return () => { off(); offBusy(); clearInterval(ticker); };
}

// One app: live status and actions, CPU/memory charts from the stream's usage updates,
// its definition, the rendered unit, its recent events.
import { api, can, enc } from './api.js';
import { h, put, fmtBytes, fmtPct, fmtDuration, fmtTime, uptimeNow, statusPill, alertBox, errorText } from './ui.js';
import * as store from './store.js';
import * as actions from './actions.js';
import { draw } from './chart.js';

const SPAN_MS = 10 * 60 * 1000;

export async function render(main, params, query) {
  const name = params.name;
  let detail;
  try { detail = await api.get('/api/apps/' + enc(name) + '?fresh=1'); } catch (e) {  // fresh: with the unit file
    main.append(h('h1', null, name), alertBox(errorText(e)), h('a', { href: '/' }, 'Back to the apps'));
    return;
  }
  if (!store.state.apps.has(name)) store.putApp(detail);
  const note = h('div', { 'aria-live': 'polite' });
  if (query.get('start_error')) note.append(alertBox('Registered, but the start failed: ' + query.get('start_error')));
  const facts = h('dl', { class: 'kv', id: 'facts' });
  const cpu = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  const mem = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  cpu.setAttribute('class', 'chart'); mem.setAttribute('class', 'chart');
  cpu.setAttribute('role', 'img'); mem.setAttribute('role', 'img');
  const buttons = h('div', { class: 'actions' });
  const report = (err, msg) => note.replaceChildren(alertBox(msg, !err));
  const events = h('tbody');

  main.append(
    h('h1', null, name, ' ', h('span', { id: 'app-status' })),
    buttons, note,
    h('div', { class: 'grid2' },
      h('section', { class: 'card', 'aria-label': 'State' }, h('h2', null, 'State'), facts),
      h('section', { class: 'card', 'aria-label': 'Usage' }, h('h2', null, 'CPU and memory (last 10 minutes)'), cpu, mem,
        h('p', { class: 'hint' }, 'Drawn from the live stream while this page is open.'))),
    h('section', { class: 'card' }, h('h2', null, 'Recent events'),
      h('div', { class: 'tablewrap' }, h('table', null, h('thead', null, h('tr', null, ['When', 'Kind', 'Message'].map((t) => h('th', { scope: 'col' }, t)))), events))),
    h('div', { class: 'grid2' },
      h('section', { class: 'card' }, h('h2', null, 'Definition'), h('pre', null, JSON.stringify(detail.definition, null, 2))),
      h('section', { class: 'card' }, h('h2', null, 'Unit file ', h('span', { class: 'tag' }, detail.unit_file ? detail.unit_file.state : '')),
        h('pre', { id: 'unit' }, detail.unit_file ? (detail.unit_file.content ?? detail.unit_file.rendered) : ''))));

  function update() {
    const a = store.state.apps.get(name);
    if (!a) { document.getElementById('app-status').replaceChildren(statusPill('deleted')); buttons.replaceChildren(h('a', { href: '/' }, 'Back to the apps')); return; }
    document.getElementById('app-status').replaceChildren(statusPill(a.status));
    const rows = [['Status', a.status + (a.reason ? ' — ' + a.reason : '')], ['Runtime', a.runtime], ['PID', a.pid ?? '–'],
      ['CPU', fmtPct(a.cpu_usage)], ['Memory', fmtBytes(a.memory_usage)], ['Uptime', fmtDuration(uptimeNow(a))],
      ['Restarts', a.restart_count ?? '–'], ['systemd', a.systemd_status || '–'], ['Enabled', a.enabled ? 'yes' : 'no'],
      ['Health', a.health ? a.health.state + (a.health.last_error ? ' (' + a.health.last_error + ')' : '') : 'no check'],
      ['Ports', (a.ports || []).join(', ') || '–'], ['Unit', detail.unit]];
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, String(v))]));
    const busy = actions.running(name);
    const b = (verb, label, need, cls) => {
      const el = h('button', { type: 'button', class: cls, disabled: !!busy || !need() }, label);
      el.addEventListener('click', async () => {
        await actions.run(name, verb, el, report);
        if (verb === 'delete' && !store.state.apps.has(name)) history.pushState(null, '', '/'), dispatchEvent(new PopStateEvent('popstate'));
      });
      return el;
    };
    put(buttons, b('start', 'Start', can.operate), b('stop', 'Stop', can.operate), b('restart', 'Restart', can.operate),
      h('a', { class: 'btn', href: '/apps/' + enc(name) + '/logs' }, 'Logs'),
      can.admin() ? h('a', { class: 'btn', href: '/apps/' + enc(name) + '/edit' }, 'Edit') : null,
      b('delete', 'Delete', can.admin, 'danger'));
    const hist = store.state.usage.get(name) || [];
    draw(cpu, hist.map((p) => ({ t: p.t, v: p.cpu })), SPAN_MS, fmtPct, 'CPU');
    draw(mem, hist.map((p) => ({ t: p.t, v: p.mem })), SPAN_MS, fmtBytes, 'Memory');
  }

  function showEvents(list) {
    events.replaceChildren(...list.slice(0, 20).map((e) => h('tr', null, h('td', null, fmtTime(e.at_usec)),
      h('td', null, h('span', { class: 'pill s-' + (e.severity === 'error' ? 'failed' : e.kind === 'recovered' ? 'running' : 'unhealthy') }, e.kind)),
      h('td', null, e.message))));
    if (!list.length) events.append(h('tr', null, h('td', { colspan: 3, class: 'muted' }, 'No events.')));
  }
  let recent = [];
  try { recent = await api.get('/api/events?app=' + enc(name) + '&limit=20'); } catch { /* shown empty */ }
  showEvents(recent);

  const off = store.subscribe((what) => {
    if (what.has('apps')) update();
    if (what.has('events')) {
      const fresh = store.state.events.filter((e) => e.app === name && !recent.some((r) => r.id === e.id));
      if (fresh.length) { recent = [...fresh, ...recent].slice(0, 20); showEvents(recent); }
    }
  });
  const offBusy = actions.onBusyChange(update);
  const tick = setInterval(update, 5000);  // redraws the charts' time axis; no request
  update();
  return () => { off(); offBusy(); clearInterval(tick); };
}

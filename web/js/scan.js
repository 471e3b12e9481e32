// /scan: the Node.js and Python processes on this host (a fresh scan of /proc), with filters.
import { api, enc } from './api.js';
import { h, fmtBytes, fmtPct, alertBox, errorText } from './ui.js';

export function render(main, params, query) {
  const kind = h('select', { id: 'scan-kind', 'aria-label': 'Kind' }, [['all', 'Node.js and Python'], ['node', 'Node.js'], ['python', 'Python']].map(([v, l]) => h('option', { value: v }, l)));
  const user = h('input', { type: 'text', id: 'scan-user', placeholder: 'user', 'aria-label': 'User' });
  const text = h('input', { type: 'search', id: 'scan-q', placeholder: 'command contains', 'aria-label': 'Command contains' });
  const go = h('button', { type: 'submit', class: 'primary' }, 'Scan');
  const note = h('div', { 'aria-live': 'polite' });
  const body = h('tbody');
  kind.value = query.get('kind') || 'all'; user.value = query.get('user') || ''; text.value = query.get('q') || '';
  const form = h('form', { class: 'toolbar', role: 'search' }, kind, user, text, go);
  main.append(h('h1', null, 'Processes on this host'), form, note,
    h('div', { class: 'tablewrap' }, h('table', { id: 'scan' },
      h('thead', null, h('tr', null, ['PID', 'Kind', 'User', 'CPU', 'RAM', 'Command', 'Managed by'].map((t) => h('th', { scope: 'col' }, t)))), body)),
    h('p', { class: 'hint' }, 'To keep an eye on one of these, pick it on the ', h('a', { href: '/select' }, 'Monitored'), ' page.'));

  async function scan() {
    go.disabled = true; go.setAttribute('aria-busy', 'true');
    const qs = new URLSearchParams({ kind: kind.value });
    if (user.value.trim()) qs.set('user', user.value.trim());
    if (text.value.trim()) qs.set('q', text.value.trim());
    history.replaceState(null, '', '/scan?' + qs);
    try {
      const list = await api.get('/api/scan?' + qs);
      note.replaceChildren(h('p', { class: 'muted' }, list.length + ' processes'));
      body.replaceChildren(...list.map((p) => h('tr', { 'data-pid': p.pid },
        h('td', { class: 'num' }, p.pid), h('td', null, p.kind), h('td', null, p.user),
        h('td', { class: 'num' }, fmtPct(p.cpu_percent)), h('td', { class: 'num' }, fmtBytes(p.memory_bytes)),
        h('td', null, h('code', null, p.command || p.cmdline || p.name)),
        h('td', null, p.managed_app ? h('a', { href: '/apps/' + enc(p.managed_app) }, p.managed_app) : p.monitored ? 'monitored' : '–'))));
    } catch (e) { note.replaceChildren(alertBox(errorText(e))); } finally { go.disabled = false; go.removeAttribute('aria-busy'); }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); scan(); });
  scan();
}

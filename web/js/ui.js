// Small DOM helpers: an element builder (text is always set as text, never as HTML),
// formatters, a confirmation dialog and an error box.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/// el.replaceChildren(...) that skips null/undefined/false like h().
export function put(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
}

export function fmtPct(n) { return n === null || n === undefined ? '–' : n.toFixed(1) + ' %'; }

export function fmtDuration(s) {
  if (s === null || s === undefined) return '–';
  s = Math.floor(s);
  const d = Math.floor(s / 86400), hh = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60, ss = s % 60;
  if (d) return d + 'd ' + hh + 'h';
  if (hh) return hh + 'h ' + m + 'm';
  if (m) return m + 'm ' + ss + 's';
  return ss + 's';
}

/// An app's uptime now: the agent refreshes an idle app's `uptime_seconds` only once a
/// minute, as of its `monitored_at` (µs since the epoch); add the time since then.
export function uptimeNow(a) {
  if (a.uptime_seconds === null || a.uptime_seconds === undefined) return a.uptime_seconds;
  const since = a.monitored_at ? (Date.now() - a.monitored_at / 1000) / 1000 : 0;
  return a.uptime_seconds + Math.max(0, since);
}

export function fmtTime(usec) {
  if (!usec) return '–';
  return new Date(usec / 1000).toLocaleString();
}

/// A modal yes/no question; resolves true when confirmed. Keyboard: Enter/Escape.
export function confirmDialog(question, confirmLabel) {
  return new Promise((resolve) => {
    const yes = h('button', { class: 'danger', type: 'submit', value: 'yes' }, confirmLabel || 'Confirm');
    const no = h('button', { type: 'submit', value: 'no' }, 'Cancel');
    const form = h('form', { method: 'dialog' }, h('p', null, question), h('div', { class: 'actions' }, yes, no));
    const dlg = h('dialog', { 'aria-label': question }, form);
    document.body.append(dlg);
    dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'yes'); dlg.remove(); });
    dlg.showModal();
    no.focus();
  });
}

/// An alert box for an API error (its message, its code) or a success note.
export function alertBox(message, ok) {
  return h('div', { class: ok ? 'alert ok' : 'alert', role: ok ? 'status' : 'alert' }, message);
}

export function errorText(e) {
  if (!e) return '';
  return e.code && e.code !== 'network' ? e.message + ' [' + e.code + ']' : e.message;
}

export const STATUS_PROBLEMS = new Set(['failed', 'crashed', 'zombie', 'unhealthy']);

export function statusPill(status) {
  const s = status || 'unknown';
  return h('span', { class: 'pill s-' + s }, s);
}

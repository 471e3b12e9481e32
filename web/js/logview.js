// The log viewer: an app's journal (or the agent's own, at /logs) live over the
// WebSocket of docs/LOGS.md. Memory and DOM are bounded: a ring of the last 100,000
// entries, at most 5,000 lines in the page (the newest that pass the filters). Rendering
// is batched once per animation frame so a flood never freezes the page.
import { h, alertBox } from './ui.js';
import { enc } from './api.js';

const RING = 100000;
const DOM_LINES = 5000;
const LEVELS = [['7', 'all levels'], ['6', 'info and above'], ['5', 'notice and above'], ['4', 'warnings and errors'], ['3', 'errors only']];

export function render(main, params) {
  const app = params.name || null;
  const title = app ? 'Logs of ' + app : 'Agent log';
  const view = h('div', { class: 'logs', id: 'log', role: 'log', 'aria-live': 'off', tabindex: '0', 'aria-label': title });
  const level = h('select', { 'aria-label': 'Level filter', id: 'log-level' }, LEVELS.map(([v, l]) => h('option', { value: v }, l)));
  const search = h('input', { type: 'search', placeholder: 'Search', 'aria-label': 'Search the log', id: 'log-search' });
  const pause = h('button', { type: 'button', 'aria-pressed': 'false', id: 'log-pause' }, 'Pause');
  const clear = h('button', { type: 'button', id: 'log-clear' }, 'Clear');
  const download = h('button', { type: 'button', id: 'log-download' }, 'Download');
  const jump = h('button', { type: 'button', hidden: true, id: 'log-jump' }, 'Jump to latest');
  const status = h('div', { class: 'status-line', id: 'log-status', role: 'status' });
  const note = h('div');
  main.append(h('h1', null, title),
    h('div', { class: 'toolbar' }, level, search, pause, clear, download, jump,
      app ? h('a', { class: 'btn', href: '/apps/' + enc(app) }, 'App page') : null),
    note, view, status);

  let ring = [];        // entries (and gap markers), oldest first
  let dropped = 0;      // entries that left the ring
  let paused = false;
  let follow = true;    // stick to the bottom
  let pending = [];     // received, not yet in the DOM
  let frame = 0;
  let lastCursor = null;
  let ws = null;
  let closed = false;
  let retry = null;
  let liveNow = false;
  const stats = { received: 0, rendered: 0, frames: 0 };
  window.__siaxLogStats = stats;

  const minPrio = () => Number(level.value);
  const needle = () => search.value.trim().toLowerCase();
  const passes = (e, q) => e.gap !== undefined || ((e.priority ?? 6) <= minPrio() && (!q || (e.message || '').toLowerCase().includes(q)));

  // One element and one text node per line (no spans unless a search highlights): a
  // flood re-lays out thousands of lines, so every node counts.
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  function line(e, q) {
    if (e.gap !== undefined) return h('div', { class: 'gap' }, `— ${e.gap} entries dropped here: the viewer fell behind (the agent keeps memory bounded) —`);
    const div = document.createElement('div');
    div.className = 'l-' + (e.level || 'info');
    const prefix = timeFmt.format(new Date((e.time_usec || 0) / 1000)) + ' ' + (e.level || '').padEnd(8);
    const msg = e.message || '';
    if (!q) { div.textContent = prefix + msg; return div; }
    div.append(prefix);
    const low = msg.toLowerCase();
    let i = 0;
    for (let j = low.indexOf(q); j >= 0; j = low.indexOf(q, i)) {
      div.append(msg.slice(i, j), h('mark', null, msg.slice(j, j + q.length)));
      i = j + q.length;
    }
    div.append(msg.slice(i));
    return div;
  }

  function trim() {
    const n = view.childElementCount - DOM_LINES;
    if (n <= 0) return;
    const r = document.createRange();
    r.setStartBefore(view.firstChild);
    r.setEndAfter(view.children[n - 1]);
    r.deleteContents();
  }

  // Following a flood, only the newest lines can be read anyway: a big batch replaces the
  // view by the last FLOOD_VIEW lines (contiguous, from the ring) instead of growing it to
  // DOM_LINES and re-laying out thousands of lines every render. Scrolling up, Pause or a
  // filter change draws the full DOM_LINES again from the ring; scrolled up, new lines are
  // counted, not drawn, until "Jump to latest".
  const FLOOD_VIEW = 300;
  let unseen = 0;
  function flush() {
    frame = 0;
    stats.frames++;
    if (paused) return;
    const q = needle();
    const batch = pending;
    pending = [];
    if (!follow) {
      unseen += batch.length;
      jump.textContent = `Jump to latest (${unseen.toLocaleString()} new)`;
      return showStatus();
    }
    if (batch.length > FLOOD_VIEW) {
      const out = [];
      for (let i = ring.length - 1; i >= 0 && out.length < FLOOD_VIEW; i--) if (passes(ring[i], q)) out.push(line(ring[i], q));
      view.replaceChildren(...out.reverse());
      stats.rendered += out.length;
    } else {
      const frag = document.createDocumentFragment();
      for (const e of batch) if (passes(e, q)) { frag.append(line(e, q)); stats.rendered++; }
      view.append(frag);
      trim();
    }
    view.scrollTop = view.scrollHeight;
    showStatus();
  }
  // At most one render per animation frame, and under a flood at most one every 100 ms:
  // the cost of a render is mostly layout, paid per render, not per line.
  let lastFlush = 0;
  let timer = 0;
  const schedule = () => {
    if (frame || timer) return;
    const wait = 100 - (performance.now() - lastFlush);
    if (pending.length > 50 && wait > 0) timer = setTimeout(() => { timer = 0; schedule(); }, wait);
    else frame = requestAnimationFrame((t) => { lastFlush = t; flush(); });
  };

  function rerender() {
    pending = [];
    const q = needle();
    const out = [];
    for (let i = ring.length - 1; i >= 0 && out.length < DOM_LINES; i--) if (passes(ring[i], q)) out.push(ring[i]);
    view.replaceChildren(...out.reverse().map((e) => line(e, q)));
    if (follow) view.scrollTop = view.scrollHeight;
    showStatus();
  }

  function add(entries) {
    for (const e of entries) ring.push(e);
    stats.received += entries.length;
    if (ring.length > RING + RING / 10) { dropped += ring.length - RING; ring = ring.slice(ring.length - RING); }
    if (!paused) { for (const e of entries) pending.push(e); schedule(); } else showStatus();
  }

  function showStatus() {
    status.textContent = `${ring.length.toLocaleString()} entries in memory (at most ${RING.toLocaleString()}), ` +
      `${view.childElementCount.toLocaleString()} shown (at most ${DOM_LINES.toLocaleString()})` +
      (dropped ? `, ${dropped.toLocaleString()} older ones let go` : '') +
      (paused ? ' — paused' : '') + (liveNow ? ' — live' : ' — loading history') + (!follow && !paused ? ' — scrolled up: auto-scroll paused' : '');
  }

  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const path = app ? '/logs/' + enc(app) : '/logs';
    const q = lastCursor ? '?cursor=' + encodeURIComponent(lastCursor) : '?tail=500';
    ws = new WebSocket(proto + '//' + location.host + path + q);
    ws.onopen = () => note.replaceChildren();
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      if (f.type === 'entries') {
        if (f.entries.length) lastCursor = f.entries[f.entries.length - 1].cursor || lastCursor;
        add(f.entries);
      } else if (f.type === 'gap') add([{ gap: f.missed }]);
      else if (f.type === 'live') { liveNow = true; showStatus(); }
      else if (f.type === 'error') note.replaceChildren(alertBox(f.message + (f.code ? ' [' + f.code + ']' : '')));
    };
    ws.onclose = (ev) => {
      liveNow = false;
      if (closed) return;
      note.replaceChildren(alertBox('The log stream closed' + (ev.reason ? ': ' + ev.reason : '') + '; reconnecting…'));
      retry = setTimeout(connect, ev.code === 1013 ? 5000 : 2000);
    };
  }

  view.addEventListener('scroll', () => {
    const atBottom = view.scrollHeight - view.scrollTop - view.clientHeight < 30;
    if (atBottom === follow) return;
    follow = atBottom;
    jump.hidden = atBottom;
    if (!follow && view.childElementCount < Math.min(DOM_LINES, ring.length)) {
      // Scrolled up in a short (flood) view: draw the full history, keeping the place.
      const fromBottom = view.scrollHeight - view.scrollTop;
      rerender();
      view.scrollTop = view.scrollHeight - fromBottom;
    }
    if (follow && unseen) rerender();
    unseen = 0;
    jump.textContent = 'Jump to latest';
    showStatus();
  });
  jump.addEventListener('click', () => { follow = true; jump.hidden = true; unseen = 0; jump.textContent = 'Jump to latest'; rerender(); view.scrollTop = view.scrollHeight; });
  level.addEventListener('change', rerender);
  let searchTimer = null;
  search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(rerender, 150); });
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) rerender(); else showStatus();
  });
  clear.addEventListener('click', () => { ring = []; pending = []; dropped = 0; view.replaceChildren(); showStatus(); });
  download.addEventListener('click', () => {
    const q = needle();
    const text = ring.filter((e) => passes(e, q)).map((e) => e.gap !== undefined ? `-- ${e.gap} entries dropped --`
      : `${new Date((e.time_usec || 0) / 1000).toISOString()} ${e.level || ''} ${e.message || ''}`).join('\n') + '\n';
    const a = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })), download: (app || 'siax-agent') + '.log' });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });

  connect();
  showStatus();
  return () => { closed = true; clearTimeout(retry); clearTimeout(timer); if (frame) cancelAnimationFrame(frame); if (ws) ws.close(); };
}

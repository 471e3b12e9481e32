// The panel's shell: client-side routes, the session, the banners and the connection
// indicator. Pages are modules loaded on first use, so the dashboard's first load stays small.
import { api, session, loadSession, logout, setUnauthorizedHandler } from './api.js';
import { h, put } from './ui.js';
import * as store from './store.js';

const routes = [
  [/^\/$/, 'dashboard.js', []],
  [/^\/login$/, 'login.js', []],
  [/^\/apps\/new$/, 'form.js', []],
  [/^\/apps\/([^/]+)\/edit$/, 'form.js', ['name']],
  [/^\/apps\/([^/]+)\/logs$/, 'logview.js', ['name']],
  [/^\/apps\/([^/]+)$/, 'app.js', ['name']],
  [/^\/logs\/([^/]+)$/, 'logview.js', ['name']],
  [/^\/logs$/, 'logview.js', []],
  [/^\/scan$/, 'scan.js', []],
  [/^\/select$/, 'select.js', []],
];

const main = document.getElementById('main');
let cleanup = null;
let started = false;

export function navigate(path, replace) {
  if (replace) history.replaceState(null, '', path); else history.pushState(null, '', path);
  render();
}

setUnauthorizedHandler(() => {
  if (location.pathname !== '/login') navigate('/login?next=' + encodeURIComponent(location.pathname), true);
});

document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/assets/')) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);

async function render() {
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  const path = decodeURI(location.pathname);
  let found = null;
  for (const [re, mod, keys] of routes) {
    const m = re.exec(location.pathname);
    if (m) { found = { mod, params: Object.fromEntries(keys.map((k, i) => [k, decodeURIComponent(m[i + 1])])) }; break; }
  }
  for (const a of document.querySelectorAll('.top nav a')) {
    const href = a.getAttribute('href');
    a.toggleAttribute('aria-current', href === path || (href !== '/' && path.startsWith(href) && href !== '/apps/new'));
    if (a.hasAttribute('aria-current')) a.setAttribute('aria-current', 'page');
  }
  if (!found) { main.replaceChildren(h('h1', null, 'Not found'), h('p', null, 'There is no page at ' + path + '. ', h('a', { href: '/' }, 'Back to the apps'))); return; }
  if (found.mod !== 'login.js' && !session.role) {
    try { await loadSession(); } catch { return; }  // 401: the handler sent us to /login
    showWho();
    startLive();
  }
  const page = await import('./' + found.mod);
  main.replaceChildren();
  cleanup = (await page.render(main, found.params, new URLSearchParams(location.search))) || null;
  const h1 = main.querySelector('h1');
  document.title = (h1 ? h1.textContent + ' · ' : '') + 'siax-agent';
}

function showWho() {
  const who = document.getElementById('who');
  who.replaceChildren(session.user + ' (' + session.role + ')',
    h('button', { type: 'button', onclick: async () => { await logout(); location.assign('/login'); } }, 'Log out'));
}

function startLive() {
  if (started) return;
  started = true;
  store.subscribe((what) => { if (what.has('system')) renderBanners(); if (what.has('connection')) renderConnection(); });
  store.loadSystem();
  store.connect();
}

// What each missing right prevents and the command that grants it (docs/SECURITY.md).
const RIGHTS = [
  [/unit files/, 'registering, editing and deleting apps, enabling them at boot',
    'run the agent as root (sudo siax-agent serve, or User=root in its unit); an unprivileged agent cannot write unit files yet (docs/SECURITY.md)'],
  [/start\/stop|manage/, 'starting, stopping and restarting apps',
    'sed "s/@SIAX_USER@/<agent-user>/" packaging/polkit/50-siax-agent.rules | sudo tee /etc/polkit-1/rules.d/50-siax-agent.rules'],
  [/journal/, 'live logs', 'sudo usermod -aG systemd-journal <agent-user>, then restart the agent'],
  [/unit status|D-Bus/, 'seeing the status of apps', 'check the system bus policy: busctl status org.freedesktop.systemd1'],
];

function describeMissing(m) {
  if (m && typeof m === 'object') {
    return { what: m.message || m.right || JSON.stringify(m), prevents: m.prevents || '', fix: m.fix || m.command || '' };
  }
  const text = String(m);
  const i = text.indexOf(': ');
  const what = i > 0 ? text.slice(0, i) : text;
  const how = i > 0 ? text.slice(i + 2) : '';
  const r = RIGHTS.find(([re]) => re.test(text));
  return { what, how, prevents: r ? r[1] : '', fix: r ? r[2] : '' };
}

function renderBanners() {
  const box = document.getElementById('banners');
  const s = store.state.system;
  box.replaceChildren();
  if (!s) return;
  if (s.systemd_reachable === false) {
    box.append(h('div', { class: 'banner error', role: 'alert', id: 'banner-systemd' },
      h('strong', null, 'systemd is unreachable: '), 'apps cannot be started, stopped or read. ',
      'Check that the agent runs on a host booted with systemd and can reach the system bus (',
      h('code', null, 'systemctl is-system-running'), ').'));
  }
  const missing = (s.missing || []).filter((m) => !(s.systemd_reachable === false && /not reachable/.test(String(m))));
  if (missing.length) {
    box.append(h('div', { class: 'banner warn', role: 'alert', id: 'banner-rights' },
      h('strong', null, 'The agent lacks rights it needs on this host.'),
      h('ul', null, missing.map((m) => {
        const d = describeMissing(m);
        return h('li', null, h('strong', null, d.what), d.how ? ' — ' + d.how : '',
          d.prevents ? h('div', null, 'This prevents: ' + d.prevents + '.') : null,
          d.fix ? h('div', null, 'Fix: ', h('code', null, d.fix)) : null);
      }))));
  }
}

function renderConnection() {
  const el = document.getElementById('conn');
  const c = store.state.connection;
  el.className = 'conn ' + (c === 'live' ? 'live' : c === 'unavailable' ? 'off' : c === 'lost' ? 'lost' : '');
  const label = { live: 'Live', connecting: 'Connecting…', lost: 'Connection lost', unavailable: 'Live updates off' }[c];
  put(el, label, store.state.connectionDetail && c !== 'live' ? ' — ' + store.state.connectionDetail : '',
    c === 'lost' || c === 'unavailable' ? h('button', { type: 'button', onclick: store.retryNow }, 'Retry now') : null);
  el.title = store.state.connectionDetail;
}

render();

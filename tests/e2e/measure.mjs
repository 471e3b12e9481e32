// Measurements for docs/PERFORMANCE.md (not a pass/fail test):
//   SIAX_SANDBOX=<running sandbox> node measure.mjs [apps=200] [flood_lines=100000] [flood_rate=5000]
// 1. The dashboard with N registered apps, in a fresh browser profile (empty cache): bytes
//    transferred and the time until the table shows every app.
// 2. The log viewer while an app floods its journal: frames per second, JS heap, DOM size.
import { Agent, APPS, APP_USER, PASSWORD, eventually, launchBrowser, sleep } from './harness.mjs';

const N = Number(process.argv[2] || 200);
const FLOOD_LINES = Number(process.argv[3] || 100000);
const FLOOD_RATE = Number(process.argv[4] || 5000);
const agent = await new Agent().start();
const out = {};
try {
  let t0 = Date.now();
  for (let i = 0; i < N; i++) {
    const r = await agent.api('POST', '/api/apps/register', {
      app_name: `m-${String(i).padStart(3, '0')}`, runtime: 'node', script_path: `${APPS}/node-http/server.js`,
      working_directory: `${APPS}/node-http`, user: APP_USER, environment: { PORT: String(20000 + i) }, adopt: true });
    if (r.status !== 201) throw new Error('register: ' + JSON.stringify(r.error));
  }
  out.register_seconds = (Date.now() - t0) / 1000;
  // GET /api/apps right after 200 registrations reads every unit from systemd (slow, see
  // PERFORMANCE.md); measure the panel once the agent has seen them all.
  for (let i = 0; i < (N > 0 ? 3 : 0); i++) {
    t0 = Date.now();
    const r = await agent.api('GET', '/api/apps');
    const ms = Date.now() - t0;
    (out.api_apps_ms ||= []).push(ms);
    if (r.status === 200 && ms < 1000) break;
  }

  const login = await fetch(agent.url + '/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }) });
  const cookie = login.headers.get('set-cookie').split(';')[0].split('=');

  for (const run of N > 0 ? [1, 2, 3] : []) {
    const context = await launchBrowser();
    await context.addCookies([{ name: cookie[0], value: cookie[1], url: agent.url }]);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    let bytes = 0, requests = 0;
    cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; requests++; });
    t0 = Date.now();
    await page.goto(agent.url + '/');
    const rowsAtHandle = await page.waitForFunction((n) => document.querySelectorAll('#apps tbody tr').length === n && performance.now(),
      N, { timeout: 180000, polling: 'raf' });
    const rowsAt = await rowsAtHandle.jsonValue();
    const shown = Date.now() - t0;
    // Interactive: the main thread answers a click at once (a task posted now runs promptly).
    const lag = await page.evaluate(() => new Promise((r) => { const s = performance.now(); setTimeout(() => r(performance.now() - s), 0); }));
    const nav = await page.evaluate(() => { const n = performance.getEntriesByType('navigation')[0]; return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd }; });
    // Where the time went: waiting for the agent's answer to GET /api/apps (or the stream's
    // snapshot) versus the panel's own work once the data is there.
    const dataEnd = await page.evaluate(() => {
      const r = performance.getEntriesByType('resource').filter((e) => /\/api\/(apps|stream)/.test(e.name));
      return r.length ? Math.max(...r.map((e) => e.responseEnd || e.responseStart)) : null;
    });
    const assets = await page.evaluate(() => performance.getEntriesByType('resource').filter((r) => r.name.includes('/assets/'))
      .reduce((s, r) => s + r.transferSize, 0) + performance.getEntriesByType('navigation')[0].transferSize);
    await sleep(300);
    out['dashboard_run' + run] = { ms_until_all_rows: shown, dom_content_loaded_ms: Math.round(nav.dcl), load_ms: Math.round(nav.load),
      transferred_bytes_all: bytes, transferred_bytes_panel_files: assets, requests, task_lag_ms: Math.round(lag),
      data_arrived_ms: dataEnd && Math.round(dataEnd), rows_checked_at_ms: Math.round(rowsAt) };
    await context.cleanup();
  }

  // The log flood.
  const flood = await agent.api('POST', '/api/apps/register', { app_name: 'flood', runtime: 'node',
    script_path: `${APPS}/logger/flood.js`, working_directory: `${APPS}/logger`, user: APP_USER,
    environment: { FLOOD_LINES: String(FLOOD_LINES), FLOOD_RATE: String(FLOOD_RATE), FLOOD_DELAY_MS: '3000' }, start: false, adopt: true });
  if (flood.status !== 201) throw new Error('flood: ' + JSON.stringify(flood.error));
  const context = await launchBrowser();
  await context.addCookies([{ name: cookie[0], value: cookie[1], url: agent.url }]);
  const page = await context.newPage();
  await page.goto(agent.url + '/apps/flood/logs');
  await page.waitForSelector('#log');
  await page.evaluate(() => {
    window.__fps = [];
    let frames = 0, last = performance.now();
    const tick = (t) => { frames++; if (t - last >= 1000) { window.__fps.push(Math.round(frames * 1000 / (t - last))); frames = 0; last = t; } requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const heap = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const r = await agent.api('POST', '/api/apps/flood/restart');  // restart: a leftover flood from an earlier run starts over
  if (r.status !== 200) throw new Error('start flood: ' + JSON.stringify(r.error));
  t0 = Date.now();
  const samples = [];
  while (Date.now() - t0 < (FLOOD_LINES / FLOOD_RATE) * 1000 + 15000) {
    await sleep(2000);
    const m = await heap();
    const s = await page.evaluate(() => ({ received: window.__siaxLogStats.received, dom: document.getElementById('log').childElementCount, fps: window.__fps.slice(-2) }));
    samples.push({ t: Math.round((Date.now() - t0) / 1000), received: s.received, dom_lines: s.dom, fps: s.fps, js_heap_mb: +(m.JSHeapUsedSize / 1048576).toFixed(1), nodes: m.Nodes });
    if (s.received >= FLOOD_LINES) break;
  }
  // Interaction while full: type a search and see the view re-filter.
  const ts = Date.now();
  await page.fill('#log-search', 'flood 99');
  await page.waitForFunction(() => document.querySelectorAll('#log mark').length > 0, null, { timeout: 10000 });
  out.search_ms_with_full_ring = Date.now() - ts;
  out.flood = { lines: FLOOD_LINES, rate_per_s: FLOOD_RATE, samples };
  const all = samples.flatMap((s) => s.fps);
  out.flood.fps_min = Math.min(...all); out.flood.fps_median = all.sort((a, b) => a - b)[Math.floor(all.length / 2)];
  await context.cleanup();
} finally {
  agent.stop();
}
console.log(JSON.stringify(out, null, 1));

// Browser tests of the panel (issue 13), against the agent in the sandbox:
//   SIAX_SANDBOX=<running sandbox> [SIAX_AGENT_BIN=...] node run.mjs
// The sandbox must be up with the user 'siaxapp' (scripts/test.sh does both).
import { Agent, APPS, APP_USER, PASSWORD, eventually, freePort, launchBrowser, runTests, sb, sbSpawn, shot } from './harness.mjs';

const agent = await new Agent().start();
const context = await launchBrowser();
let page = await context.newPage();
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(e.message));
const APP = 'e2e-web';
const appPort = await freePort();
let handPid = null;
let handProc = null;

async function login(p, url, password = PASSWORD) {
  await p.goto(url + '/login');
  await p.fill('#username', 'admin');
  await p.fill('#password', password);
  await Promise.all([p.waitForURL(url + '/'), p.click('button[type=submit]')]);
  await p.waitForSelector('#apps');
}
const row = (name) => page.locator(`#apps tr[data-app="${name}"]`);
const btn = (label) => row(APP).locator(`button[aria-label="${label} ${APP}"]`);

const tests = [
  ['wrong password is refused with the server message', async () => {
    await page.goto(agent.url + '/');
    await page.waitForURL(/\/login/);
    await page.fill('#password', 'not-the-password');
    await page.click('button[type=submit]');
    await eventually(async () => (await page.textContent('#login-error')).includes('wrong user name or password'), 'the login error');
    await shot(page, 'login');
  }],
  ['log in', async () => {
    await login(page, agent.url);
    // Fed by GET /api/stream: the indicator says Live.
    await eventually(async () => (await page.textContent('#conn')).startsWith('Live'), 'the live stream');
    await shot(page, 'dashboard-empty');
  }],
  ['a bad script path shows the server message next to the field', async () => {
    await page.goto(agent.url + '/apps/new');
    await page.fill('#f-app_name', 'e2e-bad');
    await page.selectOption('#f-runtime', 'node');
    await page.fill('#f-script_path', '/srv/does-not-exist/app.js');
    await page.fill('#f-user', APP_USER);
    await page.fill('#f-working_directory', `${APPS}/node-http`);
    await page.click('#app-form button[type=submit]');
    const msg = await eventually(async () => (await page.textContent('#e-script_path')) || '', 'the script_path error');
    if (!msg.includes('does not exist')) throw new Error('unexpected message: ' + msg);
    if ((await page.getAttribute('#f-script_path', 'aria-invalid')) !== 'true') throw new Error('field not marked invalid');
    await shot(page, 'register-bad-path');
  }],
  ['client-side validation uses the server rules', async () => {
    await page.fill('#f-app_name', 'bad name!');
    await page.click('#app-form button[type=submit]');
    const msg = await page.textContent('#e-app_name');
    if (!msg.includes("contains ' ', which is not allowed")) throw new Error('unexpected message: ' + msg);
  }],
  ['register a Node.js app through the form, with a unit preview', async () => {
    await page.goto(agent.url + '/apps/new');
    await page.fill('#f-app_name', APP);
    await page.selectOption('#f-runtime', 'node');
    await page.fill('#f-script_path', `${APPS}/node-http/server.js`);
    await page.fill('#f-user', APP_USER);
    await page.fill('#f-working_directory', `${APPS}/node-http`);
    await page.click('text=Add variable');
    await page.locator('.env-key').last().fill('PORT');
    await page.locator('.env-val').last().fill(String(appPort));
    await page.uncheck('#f-start');
    await page.click('text=Preview unit file');
    await eventually(async () => (await page.textContent('#preview')).includes('ExecStart='), 'the unit preview');
    await shot(page, 'register-form');
    await page.click('#app-form button[type=submit]');
    await page.waitForURL(agent.url + '/apps/' + APP);
    await page.waitForSelector('#facts');
    await shot(page, 'app-page');
  }],
  ['start it from the dashboard and see running with a PID', async () => {
    await page.goto(agent.url + '/');
    await row(APP).waitFor();
    await btn('Start').click();
    await eventually(async () => (await row(APP).locator('.pill').textContent()) === 'running', 'status running', 20000);
    const pid = Number(await row(APP).locator('td').nth(3).textContent());
    if (!(pid > 1)) throw new Error('no PID shown');
    sb(['test', '-d', `/proc/${pid}`]);
    // The uptime ticks in the page between the agent's updates (an idle app's come once a minute).
    const uptime = () => row(APP).locator('td').nth(6).textContent();
    const first = await eventually(async () => { const t = await uptime(); return /^\d+[smhd]/.test(t) ? t : null; }, 'an uptime');
    await eventually(async () => (await uptime()) !== first, 'the uptime to tick', 2500);
    await shot(page, 'dashboard-running');
  }],
  ['its logs arrive live in the log viewer', async () => {
    await page.goto(agent.url + '/apps/' + APP + '/logs');
    await eventually(async () => (await page.textContent('#log')).includes(`node-http listening on ${appPort}`), 'the first log line');
    const r = await eventually(async () => {  // the start may have been less than a second ago (rate limit)
      const x = await agent.api('POST', `/api/apps/${APP}/restart`);
      if (x.status === 429) return null;
      return x;
    }, 'the restart');
    if (r.status !== 200) throw new Error('restart: ' + JSON.stringify(r.error));
    await eventually(async () => (await page.textContent('#log')).includes('node-http stopping'), 'a live line', 20000);
    await page.fill('#log-search', 'stopping');
    await eventually(async () => (await page.locator('#log mark').count()) > 0, 'a highlighted match');
    await shot(page, 'logs');
    await page.fill('#log-search', '');
  }],
  ['stop it (confirmed) and see stopped', async () => {
    await page.goto(agent.url + '/');
    for (let attempt = 0; attempt < 3; attempt++) {  // the restart above may be under a second old
      await btn('Stop').click();
      await page.click('dialog button[value=yes]');
      const outcome = await eventually(async () => ((await row(APP).locator('.pill').textContent()) === 'stopped' ? 'stopped'
        : /\[rate_limited\]/.test(await page.textContent('#dash-note')) ? 'limited' : null), 'status stopped', 20000);
      if (outcome === 'stopped') break;
      await page.evaluate(() => { document.getElementById('dash-note').textContent = ''; });
      await new Promise((r) => setTimeout(r, 1100));
    }
    if ((await row(APP).locator('.pill').textContent()) !== 'stopped') throw new Error('not stopped');
    await shot(page, 'dashboard-stopped');
  }],
  ['an API error is shown with its message (rate limited or busy)', async () => {
    const other = agent.api('POST', `/api/apps/${APP}/start`);  // the panel's click follows at once
    await btn('Start').click();
    await other;
    await eventually(async () => /\[(rate_limited|operation_in_progress)\]/.test(await page.textContent('#dash-note')), 'the error');
    const text = await page.textContent('#dash-note');
    if (!/too many operations|is busy/.test(text)) throw new Error('no server message: ' + text);
    await shot(page, 'dashboard-error');
  }],
  ['a change made elsewhere (the API) reaches the open dashboard through the stream', async () => {
    await eventually(async () => (await agent.api('POST', `/api/apps/${APP}/stop`)).status === 200, 'the API stop');
    await eventually(async () => (await row(APP).locator('.pill').textContent()) === 'stopped', 'the pushed change', 20000);
  }],
  ['delete it (confirmed) and see it gone', async () => {
    await eventually(async () => (await btn('Delete').isEnabled()), 'buttons enabled');
    await btn('Delete').click();
    await page.click('dialog button[value=yes]');
    await eventually(async () => (await row(APP).count()) === 0, 'the row to go', 20000);
    const r = await agent.api('GET', '/api/apps/' + APP);
    if (r.status !== 404) throw new Error('still there: ' + r.status);
  }],
  ['/scan lists a Node.js process started by hand', async () => {
    handProc = sbSpawn(['/usr/bin/node', '-e', 'setInterval(() => {}, 1000)', 'siax-e2e-by-hand']);
    handPid = await eventually(() => {
      const out = sb(['pgrep', '-f', 'siax-e2e-by-hand'], { check: false }).stdout.trim();
      return out ? Number(out.split(/\s+/)[0]) : 0;
    }, 'the hand-started process');
    await page.goto(agent.url + '/scan');
    await page.waitForSelector(`#scan tr[data-pid="${handPid}"]`);
    await page.fill('#scan-q', 'siax-e2e-by-hand');
    await page.click('form[role=search] button');
    await eventually(async () => (await page.locator('#scan tbody tr').count()) === 1, 'the filter');
    await shot(page, 'scan');
  }],
  ['/select persists a choice across a reload', async () => {
    await page.goto(agent.url + '/select');
    const box = page.locator(`#candidates tr[data-pid="${handPid}"] input[type=checkbox]`);
    await box.check();
    await eventually(async () => (await page.locator('#monitored-now tr[data-key]').count()) === 1, 'the monitored list');
    await page.reload();
    await page.locator(`#candidates tr[data-pid="${handPid}"] input[type=checkbox]:checked`).waitFor();
    await eventually(async () => (await page.locator('#monitored-now tr[data-key]').count()) === 1, 'the list after reload');
    await shot(page, 'select');
  }],
  ['the agent log page streams the agent\'s own log', async () => {
    await page.goto(agent.url + '/logs');
    await eventually(async () => (await page.textContent('#log')).includes('listening on'), 'the agent log');
    await shot(page, 'agent-log');
  }],
  ['/logs without login is the page; its WebSocket still needs a login', async () => {
    const r = await fetch(agent.url + '/logs');
    if (r.status !== 200 || !(r.headers.get('content-type') || '').startsWith('text/html')) throw new Error('GET /logs: ' + r.status);
    const fresh = await context.browser()?.newContext?.();
    if (fresh) await fresh.close();
    const status = await page.evaluate((u) => new Promise((resolve) => {
      const ws = new WebSocket(u.replace('http', 'ws') + '/logs');
      ws.onopen = () => { ws.close(); resolve('open'); };
      ws.onerror = () => resolve('refused');
    }), agent.url);
    if (status !== 'open') throw new Error('the logged-in WebSocket did not open: ' + status);
  }],
  ['usable in a narrow window (no page-wide horizontal scroll, form in one column)', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    try {
      for (const path of ['/', '/apps/new', '/scan']) {
        await page.goto(agent.url + path);
        await page.waitForSelector('h1');
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        if (wide > 392) throw new Error(`${path} is ${wide} px wide`);
      }
      await shot(page, 'narrow-register');
    } finally { await page.setViewportSize({ width: 1280, height: 860 }); }
  }],
  ['no script errors in the pages', async () => {
    if (consoleErrors.length) throw new Error(consoleErrors.join('; '));
  }],
  ['the yellow banner shows what an agent without rights lacks', async () => {
    const weak = await new Agent({ user: APP_USER }).start();
    try {
      const p = await context.newPage();
      page = p;
      await login(p, weak.url);
      const banner = p.locator('#banner-rights');
      await banner.waitFor({ timeout: 15000 });
      const text = await banner.textContent();
      if (!text.includes('cannot write unit files') || !text.includes('This prevents') || !text.includes('Fix:')) throw new Error('banner: ' + text);
      await shot(p, 'banner-no-rights');
      await p.close();
    } finally { weak.stop(); }
  }],
];

let failed = 1;
try {
  failed = await runTests(tests, { page: () => page });
} finally {
  if (handPid) sb(['kill', String(handPid)], { check: false });
  if (handProc) handProc.kill();
  await context.cleanup();
  agent.stop();
}
process.exit(failed ? 1 : 0);

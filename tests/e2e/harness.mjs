// The pieces the browser tests share: the sandbox (a real systemd, booted by the caller:
// scripts/test.sh or by hand with tools/sandbox/siax-sandbox), the agent started inside it
// on a free port with a fresh state directory, Debian's chromium driven by playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SANDBOX = process.env.SIAX_SANDBOX || 'siax-test';
export const AGENT = process.env.SIAX_AGENT_BIN || path.join(ROOT, 'build/debug/src/siax-agent');
export const ARTIFACTS = process.env.SIAX_E2E_ARTIFACTS || path.join(ROOT, 'build/test-artifacts/e2e');
export const APPS = path.join(ROOT, 'tests/fixtures/apps');
export const APP_USER = 'siaxapp';
export const PASSWORD = 'e2e-panel-password-1';
const TOOL = path.join(ROOT, 'tools/sandbox/siax-sandbox');

/// Runs a command inside the sandbox and waits; returns {status, stdout, stderr}.
export function sb(args, { input, user, check = true } = {}) {
  const r = spawnSync(TOOL, ['exec', SANDBOX, ...(user ? ['--user', user] : []), '--', ...args],
    { input, encoding: 'utf8', timeout: 60000 });
  if (check && r.status !== 0) throw new Error(`in the sandbox: ${args.join(' ')}: exit ${r.status}: ${r.stderr || r.stdout}`);
  return r;
}

/// Starts a command inside the sandbox in the background (its output goes to `log`).
export function sbSpawn(args, { user, env = {} } = {}) {
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  return spawn(TOOL, ['exec', SANDBOX, ...(user ? ['--user', user] : []), ...envArgs, '--', ...args], { stdio: 'ignore', detached: false });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function eventually(fn, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

/// The agent inside the sandbox. `user`: run it as that user (not root), to see the panel
/// without the rights it needs.
export class Agent {
  constructor({ user = null, extra = [] } = {}) { this.user = user; this.extra = extra; }

  async start() {
    this.port = await freePort();
    this.stateDir = `/var/lib/siax-e2e-${this.port}`;
    sb(['mkdir', '-p', this.stateDir]);
    if (this.user) sb(['chown', this.user, this.stateDir]);
    const base = ['--set', `paths.state_dir=${this.stateDir}`];
    sb([AGENT, ...base, 'user', 'set-password', 'admin', '--role', 'admin'], { input: PASSWORD + '\n', user: this.user });
    // A transient service, as in production: its log goes to the journal (the /logs page).
    this.unit = `siax-e2e-agent-${this.port}`;
    sb(['systemd-run', '--unit', this.unit, '--collect', '--quiet', ...(this.user ? ['-p', `User=${this.user}`] : []),
      AGENT, ...base, '--set', `server.port=${this.port}`, '--set', 'apps.scan_interval_ms=1000',
      ...this.extra.flatMap((kv) => ['--set', kv]), 'serve']);
    this.url = `http://127.0.0.1:${this.port}`;
    await eventually(async () => (await fetch(this.url + '/api/health')).ok, 'the agent to answer', 20000);
    this.token = JSON.parse(sb([AGENT, '--json', ...base, 'token', 'create', 'e2e-' + this.port, '--role', 'admin'],
      { user: this.user }).stdout).data.token;
    return this;
  }

  async api(method, p, body) {
    const r = await fetch(this.url + p, { method, headers: { Authorization: 'Bearer ' + this.token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body) });
    const env = await r.json().catch(() => null);
    return { status: r.status, data: env && env.data, error: env && env.error };
  }

  stop() {
    sb(['systemctl', 'stop', this.unit], { check: false });
  }
}

export async function launchBrowser() {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'siax-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.SIAX_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  context.cleanup = async () => { await context.close(); rmSync(userDataDir, { recursive: true, force: true }); };
  return context;
}

/// Runs named tests in order; prints TAP-like lines and "e2e: N passed, M failed".
export async function runTests(tests, { page }) {
  mkdirSync(ARTIFACTS, { recursive: true });
  let passed = 0, failed = 0;
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try {
      await fn();
      passed++;
      console.log(`ok - ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${name}: ${e.message.split('\n')[0]}`);
      try { await page().screenshot({ path: path.join(ARTIFACTS, 'FAILED-' + name.replace(/\W+/g, '_') + '.png'), fullPage: true }); } catch { /* no page */ }
    }
  }
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  return failed;
}

export function shot(page, name) {
  return page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage: true });
}

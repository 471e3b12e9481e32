// Register (/apps/new) and edit (/apps/:name/edit) an app. Client-side checks mirror
// src/core/validation.cpp (same rules, same messages); the server checks again (and checks
// the host: files, users) and its error is shown next to the field it concerns.
import { api, enc } from './api.js';
import { h, errorText, alertBox } from './ui.js';

const RUNTIMES = [
  ['node', 'Node.js script'], ['npm', 'npm start'], ['python', 'Python script'],
  ['uvicorn', 'FastAPI (uvicorn)'], ['custom', 'Custom command'],
];
const POLICIES = ['always', 'on-failure', 'on-abnormal', 'on-abort', 'on-success', 'no'];

// ---- the server's rules (src/core/validation.cpp, src/api/app_json.cpp) ----
const APP_RULE = "use 1-64 characters from a-z, A-Z, 0-9, '_' and '-', starting with a letter or digit";
const USER_RULE = "a Unix user name starts with a-z or '_' and has at most 32 characters from a-z, 0-9, '_', '-'";
const alnum = (c) => /[A-Za-z0-9]/.test(c);

export function checkAppName(n) {
  if (!n) return 'the app name is empty: ' + APP_RULE;
  if (n.length > 64) return `the app name is ${n.length} characters long: ${APP_RULE}`;
  if (!alnum(n[0])) return `the app name '${n}' must start with a letter or digit: ${APP_RULE}`;
  for (const c of n) if (!alnum(c) && c !== '_' && c !== '-') return `the app name '${n}' contains '${c}', which is not allowed: ${APP_RULE}`;
  return '';
}
export function checkUser(u) {
  if (!u) return "'user' is required: the Unix user the app runs as";
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(u) && !/^[a-z_][a-z0-9_-]{0,30}\$$/.test(u)) return `'${u}' is not a valid user name: ${USER_RULE}`;
  return '';
}
export function checkPath(field, p) {
  if (!p) return `${field} is empty: give an absolute path`;
  if (p.length > 4096) return `${field} is longer than 4096 bytes`;
  if (p[0] !== '/') return `${field} '${p}' is not absolute: give the full path, starting with '/'`;
  if (/[\x00-\x1f\x7f]/.test(p)) return `${field} '${p}' contains a control character (a newline?): remove it`;
  if (p.includes('\\')) return `${field} '${p}' contains a backslash, which a unit file cannot carry safely: rename the file or directory`;
  const segs = p.slice(1).split('/');
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (s === '.' || s === '..') return `${field} '${p}' contains a '${s}' segment: give the normalized path`;
    if (s === '' && i < segs.length - 1) return `${field} '${p}' contains '//': give the normalized path`;
  }
  if (/ $/.test(p) || /\/ /.test(p.slice(p.lastIndexOf('/')))) return `${field} '${p}' ends with a space: remove it`;
  return '';
}
function checkEnvName(n) {
  return /^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(n) ? '' :
    `'${n}' is not a valid environment variable name: use letters, digits and '_', not starting with a digit, at most 128 characters`;
}
function checkModule(m) {
  const id = '[A-Za-z_][A-Za-z0-9_]*';
  const re = new RegExp(`^${id}(\\.${id})*:${id}(\\.${id})*$`);
  return re.test(m) ? '' : `module '${m}' is not of the form 'package.module:app' (Python identifiers, as uvicorn expects, e.g. 'main:app')`;
}
function parseSize(t) {
  const m = /^(\d+)([KMGkmg]?)$/.exec(t);
  if (!m) return null;
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1048576, g: 1073741824 }[m[2].toLowerCase()]);
}

// Which field a server error concerns: health-check errors name it in details.field;
// the others are mapped by code, then by the field name their message starts with.
const CODE_FIELD = {
  invalid_app_name: 'app_name', app_exists: 'app_name', unit_exists: 'app_name', name_mismatch: 'app_name',
  invalid_user: 'user', user_not_found: 'user', root_not_allowed: 'user',
  directory_not_found: 'working_directory', not_a_directory: 'working_directory',
  file_not_found: 'script_path', not_a_file: 'script_path', file_not_accessible: 'script_path',
  module_not_found: 'module', invalid_module: 'module', invalid_port: 'port', invalid_host: 'host',
  invalid_environment: 'environment', invalid_restart_sec: 'restart_sec', invalid_restart_policy: 'restart_policy',
  invalid_memory_max: 'memory_max', invalid_cpu_quota: 'cpu_quota', invalid_args: 'args', invalid_runtime: 'runtime',
  invalid_health_check: 'health_check',
};
const FIELDS = ['working_directory', 'script_path', 'app_name', 'user', 'module', 'port', 'host', 'environment',
  'restart_sec', 'memory_max', 'cpu_quota', 'description', 'args'];
export function fieldOf(e) {
  if (e.code === 'invalid_health_check') return 'hc_' + (e.details && e.details.field ? e.details.field : 'path');
  const m = e.message || '';
  for (const f of FIELDS) if (m.startsWith(f) || m.startsWith(`'${f}'`)) return f;
  if (e.code === 'invalid_path' || e.code === 'path_not_accessible') return m.includes('working_directory') ? 'working_directory' : 'script_path';
  if (e.code === 'invalid_value') return /argument/.test(m) ? 'args' : /description/.test(m) ? 'description' : 'environment';
  return CODE_FIELD[e.code] || null;
}

export async function render(main, params) {
  const editing = !!params.name;
  let def = null;
  if (editing) {
    try { def = (await api.get('/api/apps/' + enc(params.name))).definition; } catch (e) {
      main.append(h('h1', null, 'Edit ' + params.name), alertBox(errorText(e))); return;
    }
  }
  const ids = {};
  const errs = {};
  const input = (name, attrs) => (ids[name] = h('input', Object.assign({ id: 'f-' + name, name, type: 'text', 'aria-describedby': 'e-' + name }, attrs)));
  const row = (name, label, control, hint) => {
    errs[name] = h('div', { class: 'field-error', id: 'e-' + name, role: 'alert' });
    return h('div', { class: 'row', id: 'row-' + name }, h('label', { for: 'f-' + name }, label),
      h('div', null, control, hint ? h('div', { class: 'hint' }, hint) : null, errs[name]));
  };
  const runtime = h('select', { id: 'f-runtime', name: 'runtime', 'aria-describedby': 'e-runtime' },
    RUNTIMES.map(([v, l]) => h('option', { value: v }, l)));
  ids.runtime = runtime;
  const policy = h('select', { id: 'f-restart_policy', name: 'restart_policy' }, POLICIES.map((p) => h('option', { value: p }, p)));
  ids.restart_policy = policy;
  const envBox = h('div', { id: 'f-environment', role: 'group', 'aria-label': 'Environment variables' });
  const addEnv = (k, v) => {
    const key = h('input', { type: 'text', placeholder: 'NAME', 'aria-label': 'Variable name', class: 'env-key' });
    const val = h('input', { type: 'text', placeholder: 'value', 'aria-label': 'Variable value', class: 'env-val' });
    key.value = k || ''; val.value = v || '';
    const r = h('div', { class: 'env-row' }, key, val,
      h('button', { type: 'button', 'aria-label': 'Remove variable', onclick: () => r.remove() }, '×'));
    envBox.append(r);
    return key;
  };
  const hcOn = h('input', { type: 'checkbox', id: 'f-hc' });
  const hc = {};
  const hcFields = h('div', { hidden: true },
    ...[['path', 'Path', '/health'], ['port', 'Port', 'the app\'s port'], ['expected_status', 'Expected status', '200'],
      ['interval_ms', 'Interval (ms)', '10000'], ['timeout_ms', 'Timeout (ms)', '2000'],
      ['failures_before_unhealthy', 'Failures before unhealthy', '3']].map(([k, l, ph]) => row('hc_' + k, l,
      (hc[k] = input('hc_' + k, { type: k === 'path' ? 'text' : 'number', placeholder: ph })))),
    row('hc_restart_when_unhealthy', 'Restart when unhealthy', (hc.restart_when_unhealthy = h('input', { type: 'checkbox', id: 'f-hc_restart_when_unhealthy' }))));
  hcOn.addEventListener('change', () => { hcFields.hidden = !hcOn.checked; });
  const start = h('input', { type: 'checkbox', id: 'f-start', checked: true });
  const enable = h('input', { type: 'checkbox', id: 'f-enable', checked: true });
  const note = h('div', { 'aria-live': 'polite' });
  const preview = h('pre', { id: 'preview', hidden: true, 'aria-label': 'Unit file preview' });
  const submit = h('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Register');
  const previewBtn = h('button', { type: 'button' }, 'Preview unit file');

  const form = h('form', { novalidate: true, id: 'app-form' },
    h('fieldset', null, h('legend', null, 'App'),
      row('app_name', 'Name', input('app_name', { required: true, readonly: editing || null, autocomplete: 'off' }), '1-64 letters, digits, _ or -'),
      row('runtime', 'Runtime', runtime),
      row('script_path', 'Script path', input('script_path', { placeholder: '/srv/app/index.js' }), 'absolute path'),
      row('module', 'Module', input('module', { placeholder: 'main:app' })),
      row('port', 'Port', input('port', { type: 'number', min: 1, max: 65535 })),
      row('host', 'Host', input('host', { placeholder: '127.0.0.1' })),
      row('args', 'Arguments', (ids.args = h('textarea', { id: 'f-args', rows: 2, 'aria-describedby': 'e-args' })), 'one per line'),
      row('user', 'User', input('user', { placeholder: 'www-data', autocomplete: 'off' }), 'must exist; not root'),
      row('working_directory', 'Working directory', input('working_directory', { placeholder: '/srv/app' })),
      row('description', 'Description', input('description')),
      row('environment', 'Environment', h('div', null, envBox, h('button', { type: 'button', onclick: () => addEnv().focus() }, 'Add variable')))),
    h('fieldset', null, h('legend', null, 'Restarts and limits'),
      row('restart_policy', 'Restart policy', policy),
      row('restart_sec', 'Restart delay (s)', input('restart_sec', { type: 'number', min: 0, max: 3600, placeholder: '2' })),
      row('memory_max', 'Memory limit', input('memory_max', { placeholder: 'e.g. 512M (optional)' })),
      row('cpu_quota', 'CPU limit (%)', input('cpu_quota', { type: 'number', min: 1, max: 10000, placeholder: '100 = one core (optional)' }))),
    h('fieldset', null, h('legend', null, h('label', null, hcOn, ' HTTP health check')), hcFields),
    editing ? null : h('fieldset', null, h('legend', null, 'After registering'),
      h('label', null, start, ' Start it'), ' ', h('label', null, enable, ' Start at boot')),
    note,
    h('div', { class: 'actions' }, submit, previewBtn, h('a', { class: 'btn', href: editing ? '/apps/' + enc(params.name) : '/' }, 'Cancel')),
    preview);

  const showRuntime = () => {
    const r = runtime.value;
    document.getElementById('row-script_path').hidden = !['node', 'python', 'custom'].includes(r);
    for (const f of ['module', 'port', 'host']) document.getElementById('row-' + f).hidden = r !== 'uvicorn';
    document.querySelector('label[for=f-script_path]').textContent = r === 'custom' ? 'Executable path' : 'Script path';
  };
  runtime.addEventListener('change', showRuntime);

  // Prefill (edit).
  if (def) {
    ids.app_name.value = def.app_name;
    runtime.value = def.runtime;
    for (const f of ['script_path', 'module', 'host', 'user', 'working_directory', 'description']) if (def[f] !== undefined) ids[f].value = def[f];
    if (def.port) ids.port.value = def.port;
    ids.args.value = (def.args || []).join('\n');
    policy.value = def.restart_policy || 'always';
    ids.restart_sec.value = def.restart_sec ?? '';
    if (def.memory_max) ids.memory_max.value = def.memory_max;
    if (def.cpu_quota) ids.cpu_quota.value = def.cpu_quota;
    for (const [k, v] of Object.entries(def.environment || {})) addEnv(k, v);
    if (def.health_check) {
      hcOn.checked = true; hcFields.hidden = false;
      for (const k of Object.keys(hc)) if (def.health_check[k] !== undefined) {
        if (k === 'restart_when_unhealthy') hc[k].checked = !!def.health_check[k]; else hc[k].value = def.health_check[k];
      }
    }
  }
  main.append(h('h1', null, editing ? 'Edit ' + params.name : 'Register an app'), form);
  showRuntime();

  const clearErrors = () => { for (const [k, e] of Object.entries(errs)) { e.textContent = ''; if (ids[k]) ids[k].removeAttribute('aria-invalid'); } };
  const setError = (field, msg) => {
    const key = errs[field] ? field : null;
    if (!key) return false;
    errs[key].textContent = msg;
    const ctl = ids[key] || document.getElementById('f-' + key);
    if (ctl) ctl.setAttribute('aria-invalid', 'true');
    return true;
  };

  function body() {
    const r = runtime.value;
    const b = { app_name: ids.app_name.value.trim(), runtime: r, user: ids.user.value.trim(),
      working_directory: ids.working_directory.value.trim(), restart_policy: policy.value };
    if (['node', 'python', 'custom'].includes(r)) b.script_path = ids.script_path.value.trim();
    if (r === 'uvicorn') {
      b.module = ids.module.value.trim();
      if (ids.port.value) b.port = Number(ids.port.value);
      if (ids.host.value.trim()) b.host = ids.host.value.trim();
    }
    if (ids.description.value) b.description = ids.description.value;
    const args = ids.args.value.split('\n').filter((a) => a.length);
    if (args.length) b.args = args;
    const env = {};
    for (const row of envBox.children) {
      const k = row.querySelector('.env-key').value.trim();
      if (k) env[k] = row.querySelector('.env-val').value;
    }
    b.environment = env;
    if (ids.restart_sec.value !== '') b.restart_sec = Number(ids.restart_sec.value);
    if (ids.memory_max.value.trim()) b.memory_max = /^\d+$/.test(ids.memory_max.value.trim()) ? Number(ids.memory_max.value.trim()) : ids.memory_max.value.trim();
    if (ids.cpu_quota.value !== '') b.cpu_quota = Number(ids.cpu_quota.value);
    if (hcOn.checked) {
      const c = {};
      for (const [k, el] of Object.entries(hc)) {
        if (k === 'restart_when_unhealthy') c[k] = el.checked;
        else if (el.value !== '') c[k] = k === 'path' ? el.value : Number(el.value);
      }
      b.health_check = c;
    }
    return b;
  }

  function validate(b) {
    const problems = [];
    const add = (f, m) => { if (m) problems.push([f, m]); };
    add('app_name', checkAppName(b.app_name));
    add('user', checkUser(b.user));
    add('working_directory', b.working_directory ? checkPath('working_directory', b.working_directory) : "'working_directory' is required: the app's directory (absolute path)");
    if (b.script_path !== undefined) add('script_path', checkPath('script_path', b.script_path));
    if (b.runtime === 'uvicorn') {
      add('module', checkModule(b.module));
      if (!b.port || b.port < 1 || b.port > 65535 || !Number.isInteger(b.port)) add('port', 'a FastAPI/uvicorn app needs a port between 1 and 65535');
    }
    for (const k of Object.keys(b.environment)) add('environment', checkEnvName(k));
    for (const [k, v] of Object.entries(b.environment)) if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) add('environment', `the value of ${k} contains a control character (a newline?), which cannot be written to a unit file safely: remove it`);
    if (b.restart_sec !== undefined && !(Number.isInteger(b.restart_sec) && b.restart_sec >= 0 && b.restart_sec <= 3600)) add('restart_sec', 'restart_sec must be between 0 and 3600 seconds');
    if (b.memory_max !== undefined) {
      const n = typeof b.memory_max === 'number' ? b.memory_max : parseSize(b.memory_max);
      if (n === null) add('memory_max', `'${b.memory_max}' is not a size: use bytes or a suffix K, M, G (e.g. 512M)`);
      else if (n < 1048576) add('memory_max', 'memory_max must be at least 1 MiB (1048576 bytes)');
    }
    if (b.cpu_quota !== undefined && !(Number.isInteger(b.cpu_quota) && b.cpu_quota >= 1 && b.cpu_quota <= 10000)) add('cpu_quota', 'cpu_quota must be between 1 and 10000 percent (100 = one core)');
    if ((b.description || '').length > 1024) add('description', 'description is too long');
    return problems;
  }

  function showServerError(e) {
    const f = fieldOf(e);
    const msg = errorText(e);
    if (!(f && setError(f, msg))) note.replaceChildren(alertBox(msg));
    const ctl = f && (ids[f] || document.getElementById('f-' + f));
    if (ctl && ctl.focus) ctl.focus();
  }

  function check() {
    clearErrors();
    note.replaceChildren();
    const b = body();
    const problems = validate(b);
    for (const [f, m] of problems) if (!errs[f].textContent) setError(f, m);
    if (problems.length) { (ids[problems[0][0]] || envBox.querySelector('input') || form).focus(); return null; }
    return b;
  }

  previewBtn.addEventListener('click', async () => {
    const b = check();
    if (!b) return;
    previewBtn.disabled = true; previewBtn.setAttribute('aria-busy', 'true');
    try {
      const r = await api.post('/api/apps/preview', b);
      preview.textContent = '# ' + r.unit + '\n' + r.content;
      preview.hidden = false;
    } catch (e) { showServerError(e); preview.hidden = true; } finally { previewBtn.disabled = false; previewBtn.removeAttribute('aria-busy'); }
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const b = check();
    if (!b) return;
    submit.disabled = true; submit.setAttribute('aria-busy', 'true');
    try {
      if (editing) {
        delete b.app_name;
        await api.put('/api/apps/' + enc(params.name), b);
        history.pushState(null, '', '/apps/' + enc(params.name));
      } else {
        b.start = start.checked; b.enable = enable.checked;
        const r = await api.post('/api/apps/register', b);
        const q = r.start_error ? '?start_error=' + encodeURIComponent(r.start_error.message) : '';
        history.pushState(null, '', '/apps/' + enc(r.name) + q);
      }
      dispatchEvent(new PopStateEvent('popstate'));
    } catch (e) { showServerError(e); } finally { submit.disabled = false; submit.removeAttribute('aria-busy'); }
  });
}

// The agent's REST API (docs/API.md) as the panel uses it: the session cookie, the CSRF
// header on every mutation, the {"success","data","error"} envelope turned into values
// or an ApiError that carries the server's code and message.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export const session = { user: null, role: null, csrf: null };

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    if (session.csrf) headers['X-CSRF-Token'] = session.csrf;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', 'the agent cannot be reached (' + e.message + ')');
  }
  let env = null;
  try { env = await res.json(); } catch { /* not JSON */ }
  if (res.ok && env && env.success) return env.data;
  const err = env && env.error ? env.error : { code: 'http_' + res.status, message: res.statusText || 'request failed' };
  let message = err.message || err.code;
  const retry = res.headers.get('Retry-After');
  if (res.status === 429 && retry && !/retry/i.test(message)) message += ' (retry in ' + retry + ' s)';
  const e = new ApiError(res.status, err.code, message, err.details);
  if (res.status === 401 && path !== '/api/login') onUnauthorized(e);
  throw e;
}

let unauthorizedHandler = () => {};
function onUnauthorized(e) { unauthorizedHandler(e); }
export function setUnauthorizedHandler(fn) { unauthorizedHandler = fn; }

export const api = {
  get: (p) => call('GET', p),
  post: (p, b) => call('POST', p, b === undefined ? {} : b),
  put: (p, b) => call('PUT', p, b),
  del: (p) => call('DELETE', p),
};

export async function loadSession() {
  const s = await api.get('/api/session');
  session.user = (s.actor || '').replace(/^user:/, '');
  session.role = s.role;
  session.csrf = s.csrf_token || null;
  return s;
}

export async function login(username, password) {
  const s = await api.post('/api/login', { username, password });
  session.user = s.username;
  session.role = s.role;
  session.csrf = s.csrf_token;
  return s;
}

export async function logout() {
  try { await api.post('/api/logout'); } finally { session.user = session.role = session.csrf = null; }
}

export const can = {
  operate: () => session.role === 'operator' || session.role === 'admin',
  admin: () => session.role === 'admin',
};

export const enc = encodeURIComponent;

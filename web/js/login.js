// Log in with a panel user (the first start creates 'admin'; see README).
import { login, session } from './api.js';
import { h, errorText } from './ui.js';

export function render(main, params, query) {
  const err = h('div', { role: 'alert', class: 'field-error', id: 'login-error' });
  const user = h('input', { type: 'text', id: 'username', name: 'username', autocomplete: 'username', required: true, value: 'admin' });
  const pass = h('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'card', 'aria-describedby': 'login-error' },
    h('div', { class: 'row' }, h('label', { for: 'username' }, 'User'), user),
    h('div', { class: 'row' }, h('label', { for: 'password' }, 'Password'), pass),
    err, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    try {
      await login(user.value, pass.value);
      const next = query.get('next');
      location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : '/');
    } catch (e) {
      err.textContent = errorText(e);
      pass.select();
    } finally {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
    }
  });
  session.role = null;
  main.append(h('div', { class: 'login' }, h('h1', null, 'Log in'), form,
    h('p', { class: 'hint' }, 'The first start of the agent prints the admin password once; ',
      h('code', null, 'siax-agent user set-password admin'), ' sets one.')));
  (user.value ? pass : user).focus();
}

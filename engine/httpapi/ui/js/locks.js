// Locks: the active locks with scope, key, rule, expiry and the decision
// that set each, with a filter; an admin lifts one after confirming,
// through DELETE /v1/locks/{scope}/{key}, which records the lift.

import { call, query, seg } from './api.js';
import { el, fill, num, time, table, decisionLink, userLink, addressLink, errorLine, note } from './dom.js';
import { poll } from './poll.js';

const scopes = ['user', 'user_untrusted', 'ip', 'network', 'user_ip', 'device'];

// subject links a lock key to the user or address view.
function subject(l) {
  switch (l.scope) {
    case 'user':
    case 'user_untrusted': return userLink(l.key, l.tenant_id);
    case 'ip':
    case 'network': return addressLink(l.key);
    case 'user_ip': {
      const i = l.key.lastIndexOf('|');
      return el('span', {}, userLink(l.key.slice(0, i), l.tenant_id), el('span', { class: 'muted' }, ' | '), addressLink(l.key.slice(i + 1)));
    }
    default: return el('span', { class: 'mono' }, l.key);
  }
}

// lockID names a lock in the page: scope/key, and ?tenant=T for a lock
// of a tenant's user.
const lockID = (l) => l.scope + '/' + l.key + (l.tenant_id ? '?tenant=' + l.tenant_id : '');

export function locks(root, { arg, session, onAuthError }) {
  const admin = session.role === 'admin';
  const scope = el('select', { id: 'locks-scope', 'aria-label': 'scope' }, el('option', { value: '' }, 'all scopes'), scopes.map((s) => el('option', { value: s }, s)));
  scope.value = scopes.includes(arg) ? arg : '';
  const filter = el('input', { id: 'locks-filter', type: 'search', placeholder: 'key contains…', 'aria-label': 'key contains' });
  const status = el('div', { class: 'status' });
  const result = el('div', { class: 'result', role: 'status' });
  const list = el('div', {});
  const count = el('span', { class: 'muted' });
  fill(root,
    el('div', { class: 'head' }, el('h1', {}, 'Locks'), count),
    el('div', { class: 'filters' }, scope, filter),
    admin ? null : note('Your token has the read role: an admin token can lift locks.'),
    result, status, list);

  // confirming is the key of the lock whose lift waits for confirmation;
  // shown is what the table shows.
  let confirming = '';
  let shown = '';

  function actions(l) {
    if (!admin) return null;
    const id = lockID(l);
    if (confirming !== id) {
      return el('button', { type: 'button', class: 'small', 'data-lift': id, onclick: () => { confirming = id; p.now(); } }, 'Lift…');
    }
    return el('span', { class: 'confirm' },
      el('button', { type: 'button', class: 'small danger', 'data-confirm': id, onclick: () => lift(l) }, 'Lift ' + l.scope + ' lock'),
      el('button', { type: 'button', class: 'small link', onclick: () => { confirming = ''; p.now(); } }, 'Cancel'));
  }

  async function lift(l) {
    confirming = '';
    try {
      // A lock of a tenant's user is named by its key and tenant.
      const d = await call('/v1/locks/' + seg(l.scope) + '/' + seg(l.key) + query({ tenant: l.tenant_id }), { method: 'DELETE' });
      fill(result, el('p', { class: 'ok' }, 'Lifted the ', l.scope, ' lock on ', el('span', { class: 'mono' }, l.key), '; recorded as ', decisionLink(d.event_id), '.'));
    } catch (err) {
      if (onAuthError(err)) return;
      fill(result, errorLine('The lock was not lifted: ' + err.message));
    }
    p.now();
  }

  async function load() {
    const v = await call('/v1/locks' + query({ scope: scope.value, q: filter.value.trim(), limit: 1000 }));
    fill(count, num(v.total) + ' active' + (v.total > v.locks.length ? ', first ' + num(v.locks.length) + ' shown' : ''));
    // Unchanged data leaves the table (and a pending confirmation) alone.
    const signature = JSON.stringify(v.locks) + '\n' + confirming;
    if (signature === shown) return;
    shown = signature;
    const rows = v.locks.map((l) => Object.assign({ __attrs: { 'data-lock': lockID(l) } }, l));
    fill(list, table([
      ['scope', (l) => el('span', { class: 'scope' }, l.scope)],
      ['key', (l) => subject(l)],
      ['rule', (l) => el('span', { class: 'mono' }, l.rule)],
      ['until', (l) => time(l.until)],
      ['set by', (l) => (l.set_by ? decisionLink(l.set_by) : el('span', { class: 'muted', title: 'restored from history or set by another instance' }, '—'))],
      ['', (l) => actions(l), 'actions'],
    ], rows, 'No active lock matches.', { id: 'locks-table' }));
  }
  const p = poll(load, 5000, status, onAuthError);
  scope.addEventListener('change', () => p.now());
  filter.addEventListener('input', () => p.now());
  return p;
}

// User and Address: what the engine knows of a user (and tenant), an
// address or a network: active locks, last decision, window counters,
// recent decisions, the places they logged in from, and their timeline
// from ClickHouse when history is configured.

import { call, query, seg } from './api.js';
import { el, fill, time, verdict, reasons, lockText, table, card, note, errorLine, num, dec, decisionLink } from './dom.js';
import { decisionTable } from './decisions.js';
import { poll } from './poll.js';

export function user(root, ctx) {
  const [id = '', tenant = ''] = ctx.args;
  return subject(root, ctx, {
    title: 'User', placeholder: 'user id', value: id, tenant,
    path: (v, t) => '/v1/console/users/' + seg(v) + query({ tenant: t }),
    hash: (v, t) => '#user/' + encodeURIComponent(v) + (t ? '/' + encodeURIComponent(t) : ''),
  });
}

export function address(root, ctx) {
  return subject(root, ctx, {
    title: 'Address / network', placeholder: 'address or network (198.51.100.0/24)', value: ctx.arg,
    path: (v) => '/v1/console/ips/' + seg(v),
    hash: (v) => '#address/' + encodeURIComponent(v),
  });
}

function subject(root, { onAuthError }, o) {
  const input = el('input', { type: 'search', id: 'subject-input', placeholder: o.placeholder, 'aria-label': o.placeholder, value: o.value || '' });
  const tenant = o.tenant !== undefined ? el('input', { type: 'search', id: 'subject-tenant', placeholder: 'tenant (optional)', 'aria-label': 'tenant', value: o.tenant }) : null;
  const form = el('form', { class: 'filters', id: 'subject-form' }, input, tenant, el('button', { type: 'submit' }, 'Look up'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (v) location.hash = o.hash(v, tenant ? tenant.value.trim() : '');
  });
  const status = el('div', { class: 'status' });
  const body = el('div', { id: 'subject' });
  fill(root, el('div', { class: 'head' }, el('h1', {}, o.title)), form, status, body);
  if (!o.value) {
    fill(body, note('Enter one to see its locks, last decision, counters, recent decisions and history.'));
    input.focus();
    return { stop() {} };
  }
  return poll(async () => {
    const v = await call(o.path(o.value, tenant ? tenant.value.trim() : ''));
    render(body, v);
  }, 5000, status, onAuthError);
}

function render(body, v) {
  const st = v.status;
  const locks = st ? st.locks || [] : v.locks || [];
  const last = st && st.last_decision;
  const counters = st ? Object.entries(st.counters || {}) : [];
  fill(body,
    el('div', { class: 'detail-grid' },
      card('Active locks', locks.length ? el('ul', { class: 'plain', id: 'subject-locks' }, locks.map((l) => el('li', {}, lockText(l), ' ', el('span', { class: 'muted' }, '(' + l.rule + ')')))) : note('No active lock.')),
      st ? card('Last decision', last
        ? el('div', { id: 'last-decision', 'data-event': last.event_id },
          el('p', {}, verdict(last.decision), ' score ', num(last.score), ' · ', time(last.occurred_at), ' · ', decisionLink(last.event_id)),
          reasons(last))
        : note('No decision in memory.')) : null,
      counters.length ? card('Counters now', el('dl', { class: 'facts counters' }, counters.map(([k, n]) => [el('dt', { class: 'mono' }, k), el('dd', { class: 'num' }, dec(n))]))) : null),
    card('Recent decisions (memory)', v.feed ? decisionTable(v.recent, 'No recent decision in memory.', { id: 'subject-recent' }) : note('This server keeps no feed of recent decisions.')),
    el('div', { id: 'subject-contexts' }, card('Known contexts: successful logins (from ' + v.contexts.source + ')', el('div', { class: 'contexts' },
      ['cities', 'networks', 'devices'].map((k) => el('div', {}, el('h3', {}, k),
        table([['value', (c) => el('span', { class: k === 'cities' ? '' : 'mono' }, c.value)], ['logins', (c) => num(c.count), 'num'], ['last', (c) => time(c.last_seen)]], v.contexts[k], 'None seen.')))))),
    el('div', { id: 'subject-history-card' }, card('History (ClickHouse)', historyTable(v.history))));
}

function historyTable(h) {
  if (!h.configured) return note(h.note || 'History is not configured: this page shows what memory holds.');
  if (h.error) return errorLine('The history query ' + h.query + ' failed: ' + h.error);
  const cols = h.columns || [];
  const rows = h.rows || [];
  const cell = (name, value) => {
    if (name === 'occurred_at') return time(value);
    if (name === 'decision') return verdict(value);
    if (name === 'event_id') return decisionLink(value);
    return value;
  };
  return el('div', {}, note('Query ' + h.query + ': the newest ' + num(rows.length) + ' attempts of the last 30 days.'),
    table(cols.map((c, i) => [c, (r) => cell(c, r[i])]), rows, 'No attempt in history.', { id: 'subject-history' }));
}

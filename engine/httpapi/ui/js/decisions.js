// Decisions: the recent decisions, newest first, filtered by verdict,
// rule, user and address or network; one decision with its features.

import { call, query, seg } from './api.js';
import { el, fill, time, verdict, login, reasons, lockText, table, card, userLink, addressLink, decisionLink, note, num } from './dom.js';
import { poll } from './poll.js';

const filters = ['outcome', 'rule', 'user', 'ip'];

// rows renders decisions of the feed (also used by the user and address
// views).
export function decisionTable(rows, empty, attrs) {
  return table([
    ['time', (r) => time(r.decision.occurred_at)],
    ['decision', (r) => verdict(r.decision.decision)],
    ['score', (r) => num(r.decision.score), 'num'],
    ['login', (r) => login(r.login)],
    ['user', (r) => userLink(r.decision.user_id, r.tenant_id)],
    ['address', (r) => addressLink(r.decision.ip)],
    ['place', (r) => [r.city, r.country].filter(Boolean).join(', ') || '—'],
    ['reasons', (r) => reasons(r.decision)],
    ['event', (r) => decisionLink(r.decision.event_id)],
  ], rows.map((r) => Object.assign({ __attrs: { 'data-event': r.decision.event_id } }, r)), empty, attrs);
}

export function decisions(root, { arg, onAuthError }) {
  const initial = new URLSearchParams(arg);
  const inputs = {
    outcome: el('select', { 'aria-label': 'decision' }, ['', 'allow', 'challenge', 'lockout'].map((v) => el('option', { value: v }, v || 'all decisions'))),
    rule: el('input', { type: 'search', placeholder: 'rule', 'aria-label': 'rule' }),
    user: el('input', { type: 'search', placeholder: 'user', 'aria-label': 'user' }),
    ip: el('input', { type: 'search', placeholder: 'address or network', 'aria-label': 'address or network' }),
  };
  for (const f of filters) inputs[f].value = initial.get(f) || '';
  const paused = el('input', { type: 'checkbox', id: 'decisions-pause' });
  const status = el('div', { class: 'status' });
  const list = el('div', {});
  fill(root,
    el('div', { class: 'head' }, el('h1', {}, 'Decisions'), el('label', { class: 'muted' }, paused, ' pause')),
    el('div', { class: 'filters' }, filters.map((f) => inputs[f])), status, list);

  let shown = '';
  async function load() {
    if (paused.checked) return;
    const params = { limit: 200 };
    for (const f of filters) params[f] = inputs[f].value.trim();
    const v = await call('/v1/console/decisions' + query(params));
    if (!v.feed) {
      fill(list, note(v.note));
      return;
    }
    const signature = JSON.stringify(v.decisions);
    if (signature === shown) return;
    shown = signature;
    fill(list, decisionTable(v.decisions, 'No recent decision matches.', { id: 'decisions-table' }));
  }
  const p = poll(load, 3000, status, onAuthError);
  for (const f of filters) inputs[f].addEventListener(f === 'outcome' ? 'change' : 'input', () => p.now());
  return p;
}

// featureValue renders a feature: quantities with separators and their
// unit, identifiers (an ASN) and names as they are.
function featureValue(f) {
  if (typeof f.value !== 'number' || !f.unit) return String(f.value);
  const unit = unitSymbols[f.unit] ?? ' ' + f.unit;
  return num(f.value) + unit;
}

// unitSymbols are the short forms of the catalogue's units.
const unitSymbols = { count: '', ratio: '', second: ' s', hour: ' h', degree: '°' };

// decision is one decision with its features.
export function decision(root, { arg, onAuthError }) {
  const status = el('div', { class: 'status' });
  const body = el('div', {});
  fill(root, el('div', { class: 'head' }, el('h1', {}, 'Decision'), el('span', { class: 'mono muted' }, arg)), status, body);
  const p = poll(async () => {
    const v = await call('/v1/console/decisions/' + seg(arg));
    const d = v.decision;
    const facts = [
      ['decision', verdict(d.decision)], ['score', num(d.score)], ['login', v.login ? login(v.login) : '—'],
      ['user', userLink(d.user_id)], ['address', addressLink(d.ip)], ['occurred', time(d.occurred_at)],
      ['decided', time(d.decided_at)], ['lock', lockText(d.lock)], ['rules version', d.rules_version],
    ];
    fill(body,
      el('div', { class: 'detail-grid' },
        card('Decision', el('dl', { class: 'facts', id: 'decision-facts' }, facts.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]))),
        card('Reasons', reasons(d))),
      card('Features', v.features.length
        ? el('div', { class: 'features' }, v.features.map((f) => el('div', { class: 'feature' + (f.value === false || f.value === 0 || f.value === '' ? ' zero' : '') },
          el('span', { class: 'mono' }, f.name), el('span', { class: 'mono' }, featureValue(f)))))
        : note('The features of this decision are no longer in memory.')));
  }, 0, status, onAuthError);
  return p;
}

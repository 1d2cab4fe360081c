// Rules: the loaded version, each rule with weight, action, mode and hit
// counts, and the outcome of the last reload.

import { call } from './api.js';
import { el, fill, time, table, card, num, note, errorLine, link } from './dom.js';
import { poll } from './poll.js';

export function rulesView(root, { onAuthError }) {
  const status = el('div', { class: 'status' });
  const body = el('div', {});
  const version = el('span', { class: 'muted' });
  fill(root, el('div', { class: 'head' }, el('h1', {}, 'Rules'), version), status, body);
  return poll(async () => {
    const v = await call('/v1/console/rules');
    fill(version, 'version ', el('span', { class: 'mono' }, v.version), ' · ' + num(v.rules.length) + ' rules');
    const r = v.reload;
    const reload = !r ? note('This server does not report reloads.')
      : r.last_reload_successful
        ? el('p', { class: 'ok', id: 'reload-status' }, 'Last reload succeeded ', time(r.last_success), ' · ', num(r.reloads_total), ' loads, ', num(r.reload_failures_total), ' failed')
        : el('div', { id: 'reload-status' }, errorLine('The rules folder holds a broken set; version ' + v.version + ' stays in use.'), el('pre', {}, r.last_error));
    fill(body, card('Last reload', reload), card('Rules', table([
      ['rule', (x) => el('span', { class: 'mono', title: x.description || '' }, x.id)],
      ['mode', (x) => el('span', { class: 'mode-' + x.mode }, x.mode)],
      ['weight', (x) => num(x.weight), 'num'],
      ['action', (x) => x.action || '—'],
      ['scope', (x) => x.scope || '—'],
      ['hits, 15 min', (x) => link('#decisions/rule=' + encodeURIComponent(x.id), num(x.hits_window)), 'num'],
      ['hits since start', (x) => (x.mode === 'shadow' ? el('span', { class: 'muted' }, '—') : num(x.hits_total)), 'num'],
      ['description', (x) => el('span', { class: 'desc' }, x.description || '')],
    ], v.rules, 'No rules loaded.', { id: 'rules-table' })));
  }, 10000, status, onAuthError);
}

// DOM helpers and the console's formats: every value reaches the page as
// text (never as HTML), numbers with the viewer's thousands separators,
// times in the viewer's zone with UTC on hover, verdicts in one colour each.

// el builds an element: el('td', {class: 'num', title: 'x'}, child, ...).
// Children are nodes or text; null and undefined are skipped.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, v);
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
}

// clear empties a node and fills it with children.
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const numberFormat = new Intl.NumberFormat();
const decimalFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

// num formats a count with the viewer's thousands separators.
export const num = (n) => numberFormat.format(n);
export const dec = (n) => decimalFormat.format(n);

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const yearFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

// time renders an RFC 3339 time in the viewer's zone (today: the clock
// only; this year: without the year), with the full UTC time on hover.
export function time(iso) {
  if (!iso || iso.startsWith('0001-')) return el('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (isNaN(d)) return el('span', {}, iso);
  const now = new Date();
  const format = d.toDateString() === now.toDateString() ? clockFormat : d.getFullYear() === now.getFullYear() ? dateFormat : yearFormat;
  return el('time', { datetime: d.toISOString(), title: d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '') + ' UTC' }, format.format(d));
}

// verdict renders allow / challenge / lockout in its colour.
export const verdict = (v) => el('span', { class: 'badge v-' + v }, v);

// login renders a credential check's outcome.
export const login = (o) => el('span', { class: 'login-' + o }, o === 'success' ? '✓ success' : '✗ failure');

// link renders an in-page link to a view.
export const link = (hash, text, cls) => el('a', { href: hash, class: cls }, text);

// userLink and addressLink open the user and address views; a user of a
// tenant other than the default one is that tenant's (#user/ID/TENANT).
export const userLink = (u, tenant) => (u
  ? link('#user/' + encodeURIComponent(u) + (tenant ? '/' + encodeURIComponent(tenant) : ''), tenant ? u + ' (' + tenant + ')' : u, 'mono')
  : el('span', { class: 'muted' }, '—'));
export const addressLink = (a) => (a ? link('#address/' + encodeURIComponent(a), a, 'mono') : el('span', { class: 'muted' }, '—'));
export const decisionLink = (id) => link('#decision/' + encodeURIComponent(id), id, 'mono');

// table renders rows under a header; columns are [title, cell(row), class].
export function table(columns, rows, empty = 'Nothing to show.', attrs = {}) {
  if (!rows.length) return el('p', { class: 'empty' }, empty);
  return el('div', { class: 'scroll' }, el('table', attrs,
    el('thead', {}, el('tr', {}, columns.map(([title, , cls]) => el('th', { class: cls }, title)))),
    el('tbody', {}, rows.map((r) => el('tr', r.__attrs || {}, columns.map(([, cell, cls]) => el('td', { class: cls }, cell(r))))))));
}

// card is a titled panel.
export const card = (title, ...body) => el('section', { class: 'card' }, el('h2', {}, title), ...body);

// note is a line of explanation; error one in the error colour.
export const note = (text) => el('p', { class: 'note' }, text);
export const errorLine = (text) => el('p', { class: 'error', role: 'alert' }, text);

// reasons renders a decision's reasons as "rule (weight): detail" lines.
export function reasons(d) {
  const list = (d.reasons || []).map((r) => el('li', {}, el('b', {}, r.rule), ' ', el('span', { class: 'muted' }, '(' + r.weight + ')'), r.detail ? ': ' + r.detail : ''));
  const shadow = (d.shadow || []).map((s) => el('li', { class: 'shadow' }, el('b', {}, s.rule), ' ', el('span', { class: 'muted' }, '(' + s.weight + ', shadow)')));
  if (!list.length && !shadow.length) return el('span', { class: 'muted' }, 'no rule matched');
  return el('ul', { class: 'reasons' }, list, shadow);
}

// lockText renders a lock as "scope key [in tenant T] until".
export function lockText(l) {
  if (!l) return el('span', { class: 'muted' }, '—');
  return el('span', {}, el('span', { class: 'scope' }, l.scope), ' ', el('span', { class: 'mono' }, l.key),
    l.tenant_id ? [' in tenant ', el('span', { class: 'mono' }, l.tenant_id)] : null, ' until ', time(l.until));
}

// Live: decisions per second by verdict over the last 15 minutes, what
// fired and failed most, and the active locks by scope; refreshed every
// two seconds.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { call } from './api.js';
import { el, fill, num, card, note, table, link, addressLink } from './dom.js';
import { poll } from './poll.js';

// bucket is the seconds averaged into one point of the chart.
const bucket = 5;
const verdicts = ['allow', 'challenge', 'lockout'];
const chartHeight = 200;

// colour reads a verdict's colour from the style sheet, so the chart uses
// the colours of every badge.
const colour = (v) => getComputedStyle(document.documentElement).getPropertyValue('--' + v).trim();

export function live(root, { onAuthError }) {
  const status = el('div', { class: 'status' });
  const totals = el('div', { class: 'totals' });
  const chartBox = el('div', { class: 'chart', id: 'live-chart' });
  const version = el('span', { class: 'muted' });
  const side = el('div', { class: 'side' });
  fill(root,
    el('div', { class: 'head' }, el('h1', {}, 'Live'), version),
    status, totals,
    card('Decisions per second, last 15 minutes (' + bucket + ' s mean)', chartBox, el('div', { class: 'legend' },
      verdicts.map((v) => el('span', { class: 'key v-' + v }, v)))),
    side);

  let chart = null;
  const resize = new ResizeObserver(() => chart && chart.setSize({ width: Math.max(chartBox.clientWidth, 280), height: chartHeight }));
  function draw(series) {
    const n = Math.floor(series.allow.length / bucket);
    const xs = new Array(n);
    const ys = verdicts.map(() => new Array(n));
    let total = 0;
    let points = 0;
    for (let i = 0; i < n; i++) {
      xs[i] = series.start + (i + 1) * bucket;
      let any = false;
      verdicts.forEach((v, k) => {
        let sum = 0;
        for (let j = i * bucket; j < (i + 1) * bucket; j++) sum += series[v][j];
        ys[k][i] = sum / bucket;
        total += sum;
        if (sum > 0) any = true;
      });
      if (any) points++;
    }
    // For tests and tools: what the chart holds.
    chartBox.dataset.total = String(total);
    chartBox.dataset.points = String(points);
    const data = [xs, ...ys];
    const width = Math.max(chartBox.clientWidth, 280);
    if (!chart) {
      chart = new uPlot({
        width, height: chartHeight,
        scales: { x: { time: true } },
        axes: [{ stroke: '#667' }, { stroke: '#667', size: 50, values: (u, vals) => vals.map((v) => num(v)) }],
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        series: [{}, ...verdicts.map((v) => ({ label: v, stroke: colour(v), width: 1.5, fill: colour(v) + '22', points: { show: false } }))],
      }, data, chartBox);
      resize.observe(chartBox);
    } else {
      chart.setData(data);
    }
  }

  async function load() {
    const v = await call('/v1/console/live');
    fill(version, 'rules ', v.rules_version);
    fill(totals, ...['events', ...verdicts].map((k) =>
      el('div', { class: 'total' + (k === 'events' ? '' : ' v-' + k) }, el('span', { class: 'n' }, num(v.totals[k] || 0)), el('span', {}, k === 'events' ? 'decisions since start' : k))));
    const locksTotal = Object.values(v.locks_by_scope).reduce((a, b) => a + b, 0);
    const lockCard = card('Active locks by scope · ' + num(locksTotal),
      table([['scope', (r) => link('#locks/' + r[0], r[0], 'scope')], ['locks', (r) => num(r[1]), 'num']], Object.entries(v.locks_by_scope), 'No active locks.'));
    if (!v.feed) {
      fill(side, lockCard);
      fill(chartBox, note('This server keeps no feed of recent decisions (engine.feed_size is 0): only the totals and the locks are live.'));
      return;
    }
    draw(v.series);
    fill(side,
      card('Rules firing most', table([['rule', (r) => link('#decisions/rule=' + encodeURIComponent(r.key), r.key, 'mono')], ['hits', (r) => num(r.count), 'num']], v.top.rules, 'No rule fired.')),
      card('Networks failing most', table([['network', (r) => addressLink(r.key)], ['failures', (r) => num(r.count), 'num']], v.top.networks, 'No failures.')),
      card('ASNs failing most', table([['ASN', (r) => el('span', { class: 'mono' }, r.key)], ['organisation', (r) => r.label || '—'], ['failures', (r) => num(r.count), 'num']], v.top.asns, 'No failures from a known ASN.')),
      lockCard);
  }
  const p = poll(load, 2000, status, onAuthError);
  return {
    stop() {
      p.stop();
      resize.disconnect();
      if (chart) chart.destroy();
      chart = null;
    },
  };
}

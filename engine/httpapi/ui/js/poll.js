// poll runs load now and then every interval milliseconds until stopped;
// a failing load shows its error in status and is retried.

import { fill, errorLine } from './dom.js';

export function poll(load, interval, status, onAuthError) {
  let timer = 0;
  let stopped = false;
  let generation = 0;
  async function tick(gen) {
    try {
      await load();
      if (status) fill(status);
    } catch (err) {
      if (onAuthError(err)) return;
      if (status) fill(status, errorLine(err.message));
    }
    // Only the newest loop schedules the next load.
    if (!stopped && interval && gen === generation) timer = setTimeout(() => tick(gen), interval);
  }
  tick(generation);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    now() {
      clearTimeout(timer);
      tick(++generation);
    },
  };
}

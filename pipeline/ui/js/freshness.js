// "Data as of …": when the stream is behind (the oldest event it has not processed is older than a few
// seconds, as /health reports in stream.behind_seconds), the page says how old what it shows is.
// Checked at start and every 10 s; a failed check leaves the badge as it was.
import { $ } from './dom.js';

export const BEHIND_SECONDS = 5;

export function freshnessText(behind, now = new Date()) {
  if (!(behind > BEHIND_SECONDS)) return '';
  const asOf = new Date(now.getTime() - behind * 1000);
  return `Data as of ${asOf.toLocaleTimeString()} (the stream is ${Math.round(behind)} s behind)`;
}

export function watchFreshness(intervalMs = 10_000) {
  const badge = $('#freshness');
  const check = async () => {
    try {
      const health = await (await fetch('/health')).json();   // 503 (degraded) still says how far behind
      const text = freshnessText(health?.stream?.behind_seconds ?? 0);
      badge.textContent = text;
      badge.hidden = !text;
    } catch { /* the next check tries again */ }
  };
  check();
  return setInterval(check, intervalMs);
}

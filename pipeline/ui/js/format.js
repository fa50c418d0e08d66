// How values look on the page. Times are shown in UTC (as the API and CSV keep them).

export function dateTime(value) {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().slice(0, 16).replace('T', ' ');
}

export function sentiment(value) {
  if (value === null || value === undefined) return '';
  const number = Number(value);
  return `${number > 0 ? '+' : ''}${number.toFixed(2)}`;
}

export function sentimentClass(value) {
  if (value === null || value === undefined) return '';
  return value >= 0.05 ? 'pos' : value <= -0.05 ? 'neg' : 'neu';
}

export function duration(seconds) {
  const s = Math.round(Number(seconds) || 0);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), rest = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${rest}s` : `${rest}s`;
}

/** A cell's text for a catalogue column of the given type. */
export function cell(value, column) {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join(', ');
  const name = column && column.name;
  if (column && column.type === 'datetime') return dateTime(value);
  if (name === 'avg_sentiment') return sentiment(value);
  if (name === 'time_spent_seconds') return duration(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

/** 1234567 → "1,234,567" (without Intl, whose first use costs a fresh page tens of milliseconds). */
export function count(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

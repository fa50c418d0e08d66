// The user's sentiment and activity over time as an SVG: a bar per day for the messages sent in that day's
// sessions, and a line through the score of every inbound message (-1 … +1).

const SVG = 'http://www.w3.org/2000/svg';
const W = 700, H = 180, PAD = { left: 34, right: 34, top: 12, bottom: 24 };

function el(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const day = (value) => new Date(value).toISOString().slice(0, 10);

export function activityByDay(sessions) {
  const days = new Map();
  for (const s of sessions) days.set(day(s.started_at), (days.get(day(s.started_at)) || 0) + (s.messages || 0));
  return [...days.entries()].sort().map(([date, messages]) => ({ date, messages }));
}

export function timeline(history, sessions) {
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Sentiment and activity over time' });
  const times = [...history.map((m) => Date.parse(m.occurred_at)), ...sessions.map((s) => Date.parse(s.started_at))];
  if (!times.length) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#6b7385' }, 'No activity yet'));
    return svg;
  }
  const DAY = 86_400_000;
  const start = Math.floor(Math.min(...times) / DAY) * DAY;
  const end = Math.max(start + DAY, Math.ceil((Math.max(...times) + 1) / DAY) * DAY);
  const x = (t) => PAD.left + ((t - start) / (end - start)) * (W - PAD.left - PAD.right);
  const ySent = (v) => PAD.top + ((1 - v) / 2) * (H - PAD.top - PAD.bottom);
  const days = activityByDay(sessions);
  const most = Math.max(1, ...days.map((d) => d.messages));
  const yBar = (n) => (H - PAD.bottom) - (n / most) * (H - PAD.top - PAD.bottom);
  const barWidth = Math.max(3, (x(start + DAY) - x(start)) * 0.7);

  svg.append(el('line', { x1: PAD.left, x2: W - PAD.right, y1: ySent(0), y2: ySent(0), stroke: '#d5d9e4', 'stroke-dasharray': '4 3' }));
  for (const [v, label] of [[1, '+1'], [0, '0'], [-1, '−1']]) {
    svg.append(el('text', { x: PAD.left - 6, y: ySent(v) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#6b7385' }, label));
  }
  svg.append(el('text', { x: W - PAD.right + 6, y: PAD.top + 8, 'font-size': 10, fill: '#6b7385' }, String(most)));
  for (const d of days) {
    const t = Date.parse(`${d.date}T00:00:00Z`);
    const bar = el('rect', { x: x(t + DAY / 2) - barWidth / 2, y: yBar(d.messages), width: barWidth,
                             height: (H - PAD.bottom) - yBar(d.messages), fill: '#c9d4fb', class: 'activity' });
    bar.append(el('title', {}, `${d.date}: ${d.messages} messages`));
    svg.append(bar);
  }
  const points = history.map((m) => [x(Date.parse(m.occurred_at)), ySent(m.sentiment), m]);
  if (points.length > 1) {
    svg.append(el('polyline', { points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' '),
                                fill: 'none', stroke: '#3e63dd', 'stroke-width': 1.5 }));
  }
  for (const [px, py, m] of points) {
    const colour = m.sentiment >= 0.05 ? '#1f8a4c' : m.sentiment <= -0.05 ? '#c62a2f' : '#7b8194';
    const dot = el('circle', { cx: px.toFixed(1), cy: py.toFixed(1), r: 3, fill: colour, class: 'sentiment-point' });
    dot.append(el('title', {}, `${m.occurred_at}: ${Number(m.sentiment).toFixed(2)} — ${m.text}`));
    svg.append(dot);
  }
  svg.append(el('text', { x: PAD.left, y: H - 6, 'font-size': 10, fill: '#6b7385' }, day(start)));
  svg.append(el('text', { x: W - PAD.right, y: H - 6, 'font-size': 10, fill: '#6b7385', 'text-anchor': 'end' }, day(end - 1)));
  return svg;
}

// Settings of the bot: the inactivity window; segments (list with counts, create from the current filter,
// rename, delete) and scheduled exports (list, add, remove, run now, history). Segments and schedules are
// feature-detected: a server without their routes (404) hides the panel.

import { $, h } from './dom.js';
import { dateTime } from './format.js';
import { ask } from './dialog.js';

/** The value that finds a segment's members with {column: "segments", function: "has", value}: its id. */
export const segmentValue = (s) => s.segment_id;
const segmentLabel = (s) => s.name || s.segment_id;

export function initSettings({ api, getView, showSegment, onError }) {
  let segments = [];

  async function loadWindow() {
    const settings = await api.settings();
    $('#inactivity').value = settings.inactivity_minutes;
  }

  $('#window-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const saved = await api.put('/settings', { inactivity_minutes: Number($('#inactivity').value) });
      $('#window-status').textContent = `Saved: sessions end after ${saved.inactivity_minutes} minutes of inactivity`;
    } catch (error) { $('#window-status').textContent = error.message; }
  });

  async function loadSegments() {
    const answer = await api.optional('/segments');
    $('#segments-panel').hidden = answer === null;
    segments = answer ? answer.segments : [];
    $('#segments-table').tBodies[0].replaceChildren(...segments.map((s) => h('tr', { dataset: { segment: segmentLabel(s) } },
      h('td', {}, segmentLabel(s)), h('td', {}, s.kind || 'static'), h('td', { class: 'members' }, s.members ?? ''),
      h('td', {},
        h('button', { type: 'button', onclick: () => showSegment(segmentValue(s)) }, 'Show users'),
        s.segment_id ? h('button', { type: 'button', onclick: () => rename(s) }, 'Rename') : null,
        s.segment_id ? h('button', { type: 'button', class: 'danger', onclick: () => remove(s) }, 'Delete') : null))));
    $('#schedule-segment').replaceChildren(...segments.map((s) => h('option', { value: s.segment_id }, segmentLabel(s))));
    return segments;
  }

  async function rename(s) {
    const values = await ask({ title: 'Rename segment', fields: [{ name: 'name', label: 'Name', value: segmentLabel(s) }], ok: 'Rename' });
    if (!values) return;
    try { await api.patch(`/segments/${encodeURIComponent(s.segment_id)}`, { name: values.name }); await loadSegments(); } catch (error) { onError(error); }
  }

  async function remove(s) {
    const ok = await ask({ title: 'Delete segment', text: `Delete the segment "${segmentLabel(s)}"?`, ok: 'Delete', danger: true });
    if (!ok) return;
    try { await api.delete(`/segments/${encodeURIComponent(s.segment_id)}`); await loadSegments(); } catch (error) { onError(error); }
  }

  $('#segment-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const kind = $('#segment-kind').value;
    const body = { name: $('#segment-name').value.trim(), kind };
    if (kind === 'dynamic') body.filter = getView().filter;
    try {
      await api.post('/segments', body);
      $('#segment-status').textContent = `Created ${kind} segment "${body.name}"`;
      $('#segment-name').value = '';
      await loadSegments();
    } catch (error) {
      $('#segment-status').textContent = error.status === 404 || error.status === 405
        ? 'This server cannot create segments yet.' : error.message;
    }
  });

  async function loadSchedules() {
    const answer = await api.optional('/schedules');
    $('#schedules-panel').hidden = answer === null;
    if (!answer) return;
    const named = (value) => {
      const found = segments.find((x) => x.segment_id === value);
      return found ? segmentLabel(found) : value;
    };
    $('#schedules-table').tBodies[0].replaceChildren(...answer.schedules.map((s) => h('tr', { dataset: { scheduleId: s.schedule_id } },
      h('td', {}, named(s.segment)), h('td', {}, s.cron), h('td', {}, (s.columns || []).join(', ')), h('td', {}, s.destination ?? ''),
      h('td', {}, s.latest_run ? `${dateTime(s.latest_run.scheduled_for)} ${s.latest_run.status}` : 'never'),
      h('td', {},
        h('button', { type: 'button', onclick: () => runNow(s) }, 'Run now'),
        h('button', { type: 'button', onclick: () => history(s) }, 'History'),
        h('button', { type: 'button', class: 'danger', onclick: () => removeSchedule(s) }, 'Remove')))));
  }

  const schedulePath = (s, rest = '') => `/schedules/${encodeURIComponent(s.schedule_id)}${rest}`;
  /** Run now, then follow the run's history until it succeeded or failed (about a minute at most). */
  async function runNow(s) {
    try {
      const { run_id: runId } = await api.post(schedulePath(s, '/run'), {});
      $('#schedule-status').textContent = 'Run started';
      for (let i = 0; i < 120; i += 1) {
        const runs = await history(s);
        const run = runs.find((r) => r.run_id === runId);
        if (run && run.status !== 'running' && (run.status === 'succeeded' || run.attempt >= 3)) {
          $('#schedule-status').textContent = run.status === 'succeeded' ? `Exported ${run.rows} users to ${run.file}` : `Run failed: ${run.error}`;
          await loadSchedules();
          return;
        }
        await new Promise((done) => setTimeout(done, 500));
      }
    } catch (error) { onError(error); }
  }
  async function removeSchedule(s) {
    const ok = await ask({ title: 'Remove schedule', text: `Stop exporting "${s.segment}" on ${s.cron}?`, ok: 'Remove', danger: true });
    if (!ok) return;
    try { await api.delete(schedulePath(s)); await loadSchedules(); } catch (error) { onError(error); }
  }
  async function history(s) {
    try {
      const { runs } = await api.get(schedulePath(s, '/runs'));
      $('#schedule-runs').replaceChildren(h('h3', {}, `Runs of ${s.segment}`), h('table', {},
        h('thead', {}, h('tr', {}, ['Scheduled for', 'Status', 'Rows', 'File', 'Error'].map((t) => h('th', {}, t)))),
        h('tbody', {}, runs.map((r) => h('tr', { dataset: { runId: r.run_id } }, h('td', {}, dateTime(r.scheduled_for)), h('td', {}, r.status),
          h('td', {}, r.rows ?? ''), h('td', {}, r.file ?? ''), h('td', {}, r.error ?? ''))))));
      return runs;
    } catch (error) { onError(error); return []; }
  }

  $('#schedule-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { segment: $('#schedule-segment').value, cron: $('#schedule-cron').value.trim() };
    const columns = $('#schedule-columns').value.split(',').map((c) => c.trim()).filter(Boolean);
    if (columns.length) body.columns = columns;
    if ($('#schedule-destination').value.trim()) body.destination = $('#schedule-destination').value.trim();
    try {
      await api.post('/schedules', body);
      $('#schedule-status').textContent = `Scheduled ${body.segment} on ${body.cron}`;
      await loadSchedules();
    } catch (error) { $('#schedule-status').textContent = error.message; }
  });

  return {
    async load() {
      try { await Promise.all([loadWindow(), loadSegments().then(loadSchedules)]); } catch (error) { onError(error); }
    },
    /** Static segment ids for the "Add to segment" action (membership events carry the id). */
    async names() {
      try { await loadSegments(); } catch { /* the list is a convenience */ }
      return segments.filter((s) => s.kind === 'static').map(segmentValue);
    },
  };
}

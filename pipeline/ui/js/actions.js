// Bulk actions on the selected users or on everyone matching the filter, and CSV export (a direct download
// for small exports; for a job: progress from its status_url, then a "Download file" button).

import { $, filenameOf, h, saveBlob } from './dom.js';
import { count } from './format.js';
import { ask } from './dialog.js';

const QUESTIONS = {
  add_tag: { title: 'Add tag', fields: [{ name: 'tag', label: 'Tag' }], ok: 'Add tag' },
  remove_tag: { title: 'Remove tag', fields: [{ name: 'tag', label: 'Tag' }], ok: 'Remove tag' },
  set_attribute: { title: 'Set attribute', fields: [{ name: 'key', label: 'Key' }, { name: 'value', label: 'Value' }], ok: 'Set' },
  remove_attribute: { title: 'Remove attribute', fields: [{ name: 'key', label: 'Key' }], ok: 'Remove' },
  add_to_segment: { title: 'Add to segment', fields: [{ name: 'segment', label: 'Segment' }], ok: 'Add' },
  ban: { title: 'Ban users', ok: 'Ban', danger: true },
  delete: { title: 'Delete users', ok: 'Delete', danger: true },
};

/** Runs an action, shows "N users updated" and refreshes while the events reach ClickHouse (~1-2 s). */
export async function runAction({ api, body, status, refresh }) {
  const answer = await api.act(body);
  const n = answer.users;
  status(`${count(n)} ${n === 1 ? 'user' : 'users'} updated`);
  for (const delay of [800, 1500, 2500, 4000]) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    await refresh();
  }
  return answer;
}

export function initActions({ api, getView, users, status, onError, segmentNames, exportOptions }) {
  const scope = () => {
    const ids = users.selectedIds();
    const useSelected = $('#scope-selected').checked && ids.length > 0;
    return useSelected ? { body: { user_ids: ids }, count: ids.length }
      : { body: { filter: getView().filter }, count: users.total() };
  };

  for (const button of document.querySelectorAll('[data-action]')) {
    button.addEventListener('click', async () => {
      const action = button.dataset.action;
      const { body, count } = scope();
      const who = body.user_ids ? `${count} selected ${count === 1 ? 'user' : 'users'}`
        : `all ${count ?? ''} users matching the filter`;
      const question = { ...QUESTIONS[action] };
      if (action === 'add_to_segment') question.fields = [{ ...question.fields[0], options: await segmentNames() }];
      question.text = action === 'delete'
        ? `Delete ${who}? Their profile, sessions and messages are erased; this cannot be undone.`
        : action === 'ban' ? `Ban ${who}?` : `For ${who}.`;
      const values = await ask(question);
      if (!values) return;
      try {
        await runAction({ api, body: { action, ...body, ...values }, status, refresh: users.refresh });
        if (action === 'delete') users.clearSelection();
      } catch (error) { onError(error); }
    });
  }

  $('#export').addEventListener('click', async () => {
    const { body } = scope();
    const columns = ['user_id', ...getView().columns.filter((c) => c !== 'user_id')];
    try {
      await exportCsv({ api, body: { ...body, columns, ...exportOptions() }, status });
    } catch (error) { onError(error); }
  });
}

async function downloadTo(api, url, fallback) {
  const response = await api.fetch('GET', url);
  if (!response.ok) throw new Error(`download failed: HTTP ${response.status}`);
  saveBlob(await response.blob(), filenameOf(response, fallback));
}

export async function exportCsv({ api, body, status }) {
  const panel = $('#export-progress');
  const response = await api.fetch('POST', api.botPath('/exports'), body);
  if (response.status === 200) {
    const rows = response.headers.get('X-Export-Rows');
    saveBlob(await response.blob(), filenameOf(response, 'users.csv'));
    status(`Exported ${rows ?? ''} users to CSV`);
    return;
  }
  const job = await response.json();
  if (response.status !== 202) throw new Error(job.detail ? [].concat(job.detail).join('; ') : `HTTP ${response.status}`);
  panel.hidden = false;
  const bar = h('progress', { max: 1, value: 0 });
  const text = h('span', { id: 'export-text' }, ' Export queued…');
  panel.replaceChildren(h('strong', {}, 'CSV export '), bar, text);
  let current = job;
  while (current.status === 'queued' || current.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 500));
    current = await api.json('GET', job.status_url);
    bar.value = current.progress;
    text.textContent = ` ${current.status}: ${count(current.rows_written)} of ${count(current.total_rows)} rows`;
  }
  if (current.status !== 'done') {
    text.textContent = ` Export failed: ${current.error || current.status}`;
    return;
  }
  bar.value = 1;
  text.textContent = ` Ready: ${count(current.rows_written)} rows. `;
  panel.append(h('button', { type: 'button', class: 'primary', id: 'download-file',
                             onclick: () => downloadTo(api, current.download_url, `users-${current.id}.csv`) }, 'Download file'));
  status('Export ready');
}

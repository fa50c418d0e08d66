// The users list: chosen columns, sort by a header click, pages by the API's keyset cursor (a stack of the
// cursors that led to each page, so Previous works at any depth of a million users), selection, total.

import { $, h } from './dom.js';
import { cell, count } from './format.js';
import { columnOf } from './filters.js';
import { searchRequest } from './view.js';


export function initUsers({ api, catalogue, getView, setView, onOpen, onError, firstPage = null }) {
  const table = $('#users-table');
  const chooser = $('#column-chooser');
  let cursors = [null];   // cursors[i] fetches page i
  let page = 0;
  let nextCursor = null;
  let rows = [];
  let total = null;
  let sequence = 0;
  const selected = new Set();

  function selectionChanged() {
    $('#selected-count').textContent = `${selected.size} selected`;
    $('#scope-selected').disabled = selected.size === 0;
    if (selected.size === 0) $('#scope-matching').checked = true;
    else $('#scope-selected').checked = true;
    const all = $('#select-page');
    if (all) all.checked = rows.length > 0 && rows.every((r) => selected.has(r.user_id));
  }

  function sortBy(column) {
    const view = getView();
    const same = view.sort.column === column.name;
    const direction = same ? (view.sort.direction === 'asc' ? 'desc' : 'asc')
      : (column.type === 'string' || column.type === 'attribute' ? 'asc' : 'desc');
    setView({ ...view, sort: { column: column.name, direction } });
  }

  function renderHead() {
    const view = getView();
    const selectPage = h('input', { type: 'checkbox', id: 'select-page', 'aria-label': 'Select all on this page',
      onchange: (event) => {
        for (const row of rows) event.target.checked ? selected.add(row.user_id) : selected.delete(row.user_id);
        for (const box of table.querySelectorAll('tbody input[type=checkbox]')) box.checked = event.target.checked;
        selectionChanged();
      } });
    const headers = view.columns.map((name) => {
      const column = columnOf(catalogue, name);
      const sorted = view.sort.column === name;
      return h('th', { class: column.sortable ? 'sortable' : '', dataset: { column: name },
                       'aria-sort': sorted ? (view.sort.direction === 'asc' ? 'ascending' : 'descending') : null,
                       onclick: column.sortable ? () => sortBy(column) : null,
                       title: column.sortable ? 'Sort by this column' : null }, column.label);
    });
    const plus = h('th', { class: 'check' }, h('button', { type: 'button', id: 'choose-columns', title: 'Columns',
      'aria-label': 'Choose columns', onclick: () => { chooser.hidden = !chooser.hidden; renderChooser(); } }, '+'));
    table.tHead.rows[0].replaceChildren(h('th', { class: 'check' }, selectPage), ...headers, plus);
  }

  function renderChooser() {
    if (chooser.hidden) return;
    const view = getView();
    const toggle = (name, on) => {
      const columns = on ? [...view.columns, name] : view.columns.filter((c) => c !== name);
      if (columns.length) setView({ ...view, columns });
    };
    const boxes = catalogue.filter((c) => c.name !== 'attributes.<key>').map((c) => h('label', {},
      h('input', { type: 'checkbox', checked: view.columns.includes(c.name), dataset: { column: c.name },
                   onchange: (event) => toggle(c.name, event.target.checked) }), ' ', c.label));
    const attributes = view.columns.filter((c) => c.startsWith('attributes.')).map((name) => h('label', {},
      h('input', { type: 'checkbox', checked: true, onchange: () => toggle(name, false) }), ' ', name));
    const key = h('input', { placeholder: 'attribute key', id: 'column-attribute', 'aria-label': 'Attribute column' });
    const add = h('form', { onsubmit: (event) => {
      event.preventDefault();
      const value = key.value.trim();
      if (/^[A-Za-z0-9_.-]{1,128}$/.test(value) && !view.columns.includes(`attributes.${value}`)) {
        toggle(`attributes.${value}`, true);
      }
    } }, key, h('button', { type: 'submit' }, 'Add attribute column'));
    chooser.replaceChildren(h('strong', {}, 'Columns'), ...boxes, ...attributes, add,
      h('button', { type: 'button', class: 'link', onclick: () => { chooser.hidden = true; } }, 'Close'));
  }

  function renderRows() {
    const view = getView();
    const body = rows.map((row) => {
      const box = h('input', { type: 'checkbox', checked: selected.has(row.user_id), 'aria-label': `Select ${row.user_id}`,
        onclick: (event) => event.stopPropagation(),
        onchange: (event) => { event.target.checked ? selected.add(row.user_id) : selected.delete(row.user_id); selectionChanged(); } });
      const cells = view.columns.map((name) => {
        const column = columnOf(catalogue, name);
        const value = row[name];
        if (name === 'name' && !value) return h('td', { dataset: { column: name }, class: 'muted' }, row.user_id);
        if (column.type === 'tags' && Array.isArray(value)) {
          return h('td', { dataset: { column: name } }, value.map((v) => h('span', { class: 'tag' }, v)));
        }
        return h('td', { dataset: { column: name } }, cell(value, column));
      });
      return h('tr', { dataset: { userId: row.user_id }, onclick: () => onOpen(row.user_id) },
        h('td', { class: 'check' }, box), ...cells, h('td'));
    });
    if (!rows.length) body.push(h('tr', { class: 'empty' }, h('td', { colspan: view.columns.length + 2 }, 'No users match.')));
    table.tBodies[0].replaceChildren(...body);
    $('#page').textContent = `Page ${page + 1}`;
    $('#prev').disabled = page === 0;
    $('#next').disabled = !nextCursor;
    selectionChanged();
  }

  function renderTotal() {
    $('#total').textContent = total === null ? '…' : `${count(total)} ${total === 1 ? 'user' : 'users'}`;
    $('#matching-count').textContent = total === null ? 'everyone matching the filter'
      : `everyone matching the filter (${count(total)})`;
  }

  async function load() {
    const mine = ++sequence;
    const view = getView();
    table.setAttribute('aria-busy', 'true');
    try {
      const answer = await (firstPage || api.search(searchRequest(view, cursors[page])));   // the first: asked for at start
      firstPage = null;
      if (mine !== sequence) return;
      rows = answer.users;
      total = null;
      nextCursor = answer.next_cursor;
      renderHead();
      renderRows();
      renderTotal();
      if (!document.body.dataset.firstRows) {   // what bench/page_bench.py measures
        performance.mark('users-rendered');
        document.body.dataset.firstRows = String(performance.now());
      }
      const counted = await api.count(view.filter);   // after the rows: counting scans every match
      if (mine !== sequence) return;
      total = counted.total;
      renderTotal();
    } catch (error) {
      if (mine === sequence) onError(error);
    } finally {
      if (mine === sequence) table.setAttribute('aria-busy', 'false');
    }
  }

  document.addEventListener('click', (event) => {   // a click elsewhere closes the column chooser
    if (!chooser.hidden && !chooser.contains(event.target) && event.target.id !== 'choose-columns') chooser.hidden = true;
  });
  $('#next').addEventListener('click', () => { if (nextCursor) { cursors = [...cursors.slice(0, page + 1), nextCursor]; page += 1; load(); } });
  $('#prev').addEventListener('click', () => { if (page > 0) { page -= 1; load(); } });

  return {
    /** The view changed: back to page one (cursors belong to one filter and sort). */
    reset() { cursors = [null]; page = 0; selected.clear(); renderHead(); renderChooser(); return load(); },
    refresh: load,
    selectedIds: () => [...selected],
    clearSelection() { selected.clear(); selectionChanged(); },
    total: () => total,
  };
}

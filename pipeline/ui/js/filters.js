// The filter builder: Add filter -> column / function (only those the catalogue lists for it) / value;
// all or any; every condition a removable chip.

import { $, h } from './dom.js';

export const FUNCTION_LABELS = {
  equals: 'equals', not_equals: 'does not equal', contains: 'contains', not_contains: 'does not contain',
  starts_with: 'starts with', ends_with: 'ends with', is_set: 'is set', is_not_set: 'is not set',
  in_list: 'is one of', eq: '=', ne: '≠', gt: '>', gte: '≥', lt: '<', lte: '≤', between: 'between',
  before: 'before', after: 'after', within_last_days: 'in the last (days)', more_than_days_ago: 'more than (days) ago',
  has: 'has', has_not: 'does not have', is_true: 'is true', is_false: 'is false',
};
const NO_VALUE = new Set(['is_set', 'is_not_set', 'is_true', 'is_false']);
const NUMBER = new Set(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'within_last_days', 'more_than_days_ago']);
const DATE = new Set(['before', 'after']);
const ATTRIBUTE = '__attribute__';

/** The catalogue entry of a column name; attributes.<key> takes the template's functions. */
export function columnOf(catalogue, name) {
  const found = catalogue.find((c) => c.name === name);
  if (found) return found;
  if (name.startsWith('attributes.')) {
    const template = catalogue.find((c) => c.name === 'attributes.<key>');
    return { ...template, name, label: name.slice('attributes.'.length) };
  }
  return { name, label: name, type: 'string', functions: [], sortable: false };
}

export function describeCondition(catalogue, condition) {
  const column = columnOf(catalogue, condition.column);
  const fn = FUNCTION_LABELS[condition.function] || condition.function;
  const { value } = condition;
  const shown = value === null || value === undefined ? '' : Array.isArray(value)
    ? (condition.function === 'between' ? value.join(' and ') : value.join(', ')) : String(value);
  return [column.label, fn, shown].filter(Boolean).join(' ');
}

function valueInputs(column, fn) {
  if (NO_VALUE.has(fn)) return [];
  const dateLike = column.type === 'datetime';
  if (fn === 'between') {
    const type = dateLike ? 'date' : column.type === 'number' ? 'number' : 'text';
    return [h('input', { type, step: 'any', required: true, 'aria-label': 'From', class: 'filter-value' }),
            h('span', {}, 'and'),
            h('input', { type, step: 'any', required: true, 'aria-label': 'To', class: 'filter-value' })];
  }
  if (DATE.has(fn)) return [h('input', { type: 'date', required: true, 'aria-label': 'Value', class: 'filter-value' })];
  if (NUMBER.has(fn)) {
    return [h('input', { type: 'number', step: 'any', required: true, 'aria-label': 'Value', class: 'filter-value' })];
  }
  const placeholder = fn === 'in_list' ? 'values, separated by commas' : 'value';
  return [h('input', { type: 'text', required: true, placeholder, 'aria-label': 'Value', class: 'filter-value' })];
}

function readValue(column, fn, inputs) {
  if (NO_VALUE.has(fn)) return null;
  const raw = inputs.map((input) => input.value.trim());
  if (fn === 'between') {
    const numeric = column.type === 'number' || raw.every((v) => v !== '' && !Number.isNaN(Number(v)));
    return numeric && column.type !== 'datetime' ? raw.map(Number) : raw;
  }
  if (NUMBER.has(fn)) return Number(raw[0]);
  if (fn === 'in_list') return raw[0].split(',').map((v) => v.trim()).filter(Boolean);
  return raw[0];
}

export function initFilters({ catalogue, getView, onChange }) {
  const editor = $('#filter-editor');
  const columnSelect = $('#filter-column');
  const keyInput = $('#filter-key');
  const functionSelect = $('#filter-function');
  const values = $('#filter-values');
  const error = $('#filter-error');

  const groups = [['Profile', (c) => c.type === 'string'], ['Metrics', (c) => c.type === 'number' || c.type === 'datetime'],
                  ['Lists', (c) => c.type === 'tags'], ['Other', (c) => c.type === 'boolean']];
  columnSelect.replaceChildren(...groups.map(([label, fits]) => h('optgroup', { label },
    catalogue.filter((c) => c.name !== 'attributes.<key>' && fits(c)).map((c) => h('option', { value: c.name }, c.label)))),
    h('optgroup', { label: 'Custom attributes' }, h('option', { value: ATTRIBUTE }, 'Custom attribute…')));

  const chosenColumn = () => columnOf(catalogue, columnSelect.value === ATTRIBUTE
    ? `attributes.${keyInput.value.trim() || 'key'}` : columnSelect.value);

  function showFunctions() {
    keyInput.hidden = columnSelect.value !== ATTRIBUTE;
    keyInput.required = !keyInput.hidden;
    functionSelect.replaceChildren(...chosenColumn().functions.map((f) => h('option', { value: f }, FUNCTION_LABELS[f] || f)));
    showValues();
  }
  function showValues() { values.replaceChildren(...valueInputs(chosenColumn(), functionSelect.value)); }

  columnSelect.addEventListener('change', showFunctions);
  functionSelect.addEventListener('change', showValues);
  $('#add-filter').addEventListener('click', () => {
    editor.hidden = false;
    error.textContent = '';
    showFunctions();
    columnSelect.focus();
  });
  $('#filter-cancel').addEventListener('click', () => { editor.hidden = true; });
  editor.addEventListener('submit', (event) => {
    event.preventDefault();
    const column = chosenColumn();
    if (columnSelect.value === ATTRIBUTE && !/^[A-Za-z0-9_.-]{1,128}$/.test(keyInput.value.trim())) {
      error.textContent = 'an attribute key is letters, digits, "_", "." or "-"';
      return;
    }
    const condition = { column: column.name, function: functionSelect.value,
                        value: readValue(column, functionSelect.value, [...values.querySelectorAll('input')]) };
    if (condition.value === null) delete condition.value;
    const view = getView();
    editor.hidden = true;
    onChange({ ...view.filter, filters: [...view.filter.filters, condition] });
  });
  $('#match').addEventListener('change', (event) => onChange({ ...getView().filter, match: event.target.value }));

  return {
    render(filter) {
      $('#match').value = filter.match;
      $('#chips').replaceChildren(...filter.filters.map((condition, index) => h('li', { class: 'chip' },
        h('span', {}, condition.filters ? `(${condition.filters.length} grouped conditions)` : describeCondition(catalogue, condition)),
        h('button', { type: 'button', title: 'Remove filter', 'aria-label': 'Remove filter',
                      onclick: () => onChange({ ...filter, filters: filter.filters.filter((_, i) => i !== index) }) }, '×'))));
    },
  };
}

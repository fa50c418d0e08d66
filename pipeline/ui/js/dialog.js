// One modal dialog for every question the page asks: fields to fill, or a confirmation.

import { $, h } from './dom.js';

/** Resolves to {field: value} on OK, null on Cancel. fields: [{name, label, value?, options?}] */
export function ask({ title, text = '', fields = [], ok = 'OK', danger = false }) {
  const dialog = $('#dialog');
  $('#dialog-title').textContent = title;
  $('#dialog-text').textContent = text;
  const inputs = fields.map((field) => {
    const listId = field.options ? `dialog-list-${field.name}` : null;
    const input = h('input', { name: field.name, required: field.optional ? null : true, value: field.value ?? '',
                               list: listId, autocomplete: 'off' });
    return [input, h('label', {}, field.label, input,
      listId ? h('datalist', { id: listId }, field.options.map((o) => h('option', { value: o }))) : null)];
  });
  $('#dialog-fields').replaceChildren(...inputs.map(([, label]) => label));
  const okButton = $('#dialog-ok');
  okButton.textContent = ok;
  okButton.className = danger ? 'primary danger-fill' : 'primary';
  if (danger) okButton.style.background = 'var(--danger)'; else okButton.style.background = '';
  return new Promise((resolve) => {
    const form = $('#dialog-form');
    const finish = (answer) => {
      form.removeEventListener('submit', onSubmit);
      $('#dialog-cancel').removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      dialog.close();
      resolve(answer);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      finish(Object.fromEntries(inputs.map(([input]) => [input.name, input.value.trim()])));
    };
    const onCancel = (event) => { event.preventDefault(); finish(null); };
    form.addEventListener('submit', onSubmit);
    $('#dialog-cancel').addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    (inputs[0]?.[0] || okButton).focus();
  });
}

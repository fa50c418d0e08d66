// One user: name and email (editable), profile (See more for every field), segments, tags, custom attributes
// (set / remove), last session data, a chart of sentiment and activity, and every chat as a transcript.

import { $, h } from './dom.js';
import { dateTime, duration, sentiment, sentimentClass } from './format.js';
import { runAction } from './actions.js';
import { timeline } from './timeline.js';

const MAIN_PROFILE = ['source', 'country', 'city', 'language', 'referrer'];

function definitions(pairs) {
  return h('dl', {}, pairs.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value ?? '')]));
}

function score(value) {
  return h('span', { class: `sentiment ${sentimentClass(value)}`, dataset: { sentiment: value ?? '' } }, sentiment(value));
}

function transcript(groups) {
  return groups.map((group, index) => {
    const s = group.session;
    const header = s ? `Chat ${index + 1} · ${dateTime(s.started_at)} – ${dateTime(s.ended_at)} · ${duration(s.duration_seconds)}`
      + ` · ${s.messages} messages · ${s.clicks} clicks` : `Messages outside a session · ${dateTime(group.messages[0]?.occurred_at)}`;
    return h('section', { class: 'session', dataset: { sessionId: s ? s.session_id : '' } },
      h('header', {}, header, s && s.avg_sentiment !== null ? [' · average ', score(s.avg_sentiment)] : null),
      group.messages.map((m) => h('div', { class: `msg ${m.direction}`, dataset: { eventId: m.event_id } },
        h('span', { class: 'text' }, m.text || (m.attachments?.length ? `[${m.attachments.length} attachment(s)]` : '')),
        m.direction === 'inbound' && m.sentiment !== null ? score(m.sentiment) : null,
        h('time', { datetime: m.occurred_at }, dateTime(m.occurred_at)))));
  });
}

export function initDetail({ api, catalogue, status, onError, onChanged }) {
  const panel = $('#detail');
  let current = null;

  async function act(body) {
    try {
      await runAction({ api, body: { ...body, user_ids: [current] }, status,
                        refresh: async () => { await show(current, { quiet: true }); onChanged(); } });
    } catch (error) { onError(error); }
  }

  function editable(label, field, action, value) {
    const input = h('input', { value: value ?? '', 'aria-label': label, id: `edit-${field}` });
    return h('form', { class: 'editable', onsubmit: (event) => { event.preventDefault(); act({ action, [field]: input.value.trim() }); } },
      h('strong', {}, label), input, h('button', { type: 'submit' }, 'Save'));
  }

  function render(user, sessions, groups) {
    const labels = Object.fromEntries(catalogue.map((c) => [c.name, c.label]));
    const { profile, metrics } = user;
    const more = h('div', { hidden: true, id: 'profile-more' },
      definitions(Object.entries(profile).filter(([k]) => !['name', 'email', ...MAIN_PROFILE].includes(k))
        .map(([k, v]) => [labels[k] || k, v])));
    const seeMore = h('button', { type: 'button', class: 'link', id: 'see-more',
      onclick: () => { more.hidden = !more.hidden; seeMore.textContent = more.hidden ? 'See more' : 'See less'; } }, 'See more');
    const tagInput = h('input', { placeholder: 'new tag', 'aria-label': 'New tag', id: 'new-tag' });
    const keyInput = h('input', { placeholder: 'key', 'aria-label': 'New attribute key', id: 'attr-key' });
    const valueInput = h('input', { placeholder: 'value', 'aria-label': 'New attribute value', id: 'attr-value' });
    const last = user.last_session;
    panel.replaceChildren(
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close', onclick: () => close() }, '×'),
      h('h2', { id: 'detail-title' }, profile.name || user.user_id),
      h('p', { class: 'muted' }, user.user_id, ' · ', user.channels.join(', '), user.banned ? ' · banned' : ''),
      editable('Name', 'name', 'edit_name', profile.name),
      editable('Email', 'email', 'edit_email', profile.email),
      h('h3', {}, 'User data'),
      definitions([...MAIN_PROFILE.map((k) => [labels[k] || k, profile[k]]),
                   ['First seen', dateTime(metrics.first_seen)], ['Last seen', dateTime(metrics.last_seen)],
                   ['Sessions', metrics.sessions], ['Messages sent', metrics.messages_sent], ['Clicks', metrics.clicks],
                   ['Time spent', duration(metrics.time_spent_seconds)], ['Average sentiment', score(metrics.avg_sentiment)],
                   ['Last message at', dateTime(metrics.last_message_at)]]),
      seeMore, more,
      h('h3', {}, 'Segments'),
      h('p', { id: 'detail-segments' }, user.segments.length ? user.segments.map((s) => h('span', { class: 'tag' }, s)) : 'none'),
      h('h3', {}, 'Tags'),
      h('p', { id: 'detail-tags' }, user.tags.map((t) => h('span', { class: 'tag' }, t,
        h('button', { type: 'button', class: 'link', 'aria-label': `Remove tag ${t}`, onclick: () => act({ action: 'remove_tag', tag: t }) }, '×'))),
        user.tags.length ? null : 'none'),
      h('form', { class: 'editable', onsubmit: (event) => { event.preventDefault(); if (tagInput.value.trim()) act({ action: 'add_tag', tag: tagInput.value.trim() }); } },
        tagInput, h('button', { type: 'submit' }, 'Add tag')),
      h('h3', {}, 'Custom attributes'),
      h('table', { id: 'detail-attributes' }, h('tbody', {}, Object.entries(user.attributes).sort().map(([k, v]) => h('tr', {},
        h('th', {}, k), h('td', {}, v),
        h('td', {}, h('button', { type: 'button', class: 'link', 'aria-label': `Remove attribute ${k}`,
                                  onclick: () => act({ action: 'remove_attribute', key: k }) }, 'Remove')))))),
      h('form', { class: 'editable', onsubmit: (event) => { event.preventDefault(); act({ action: 'set_attribute', key: keyInput.value.trim(), value: valueInput.value }); } },
        keyInput, valueInput, h('button', { type: 'submit' }, 'Set attribute')),
      h('h3', {}, 'Last session data'),
      last ? definitions([['Started', dateTime(last.started_at)], ['Ended', dateTime(last.ended_at)],
                          ['Messages', last.messages], ['Sentiment', score(last.sentiment)],
                          ...Object.entries(last.profile || {}).map(([k, v]) => [labels[k] || k, v])])
        : h('p', { class: 'muted' }, 'No session yet'),
      h('h3', {}, 'Sentiment and activity'),
      h('div', { class: 'chart', id: 'detail-chart' }, timeline(user.sentiment_history || [], sessions),
        h('div', { class: 'legend' }, 'bars: messages per day · line: sentiment of each message')),
      h('h3', {}, 'Chats'),
      h('div', { id: 'transcript' }, transcript(groups)));
  }

  async function show(userId, { quiet = false } = {}) {
    current = userId;
    panel.hidden = false;
    if (!quiet) panel.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      const [user, sessions, chats] = await Promise.all([api.user(userId), api.sessions(userId), api.transcript(userId)]);
      if (current === userId) render(user, sessions.sessions, chats.sessions);
    } catch (error) {
      if (error.status === 404) { panel.replaceChildren(h('p', {}, 'This user no longer exists.')); return; }
      onError(error);
    }
  }

  function close() { panel.hidden = true; current = null; }
  document.addEventListener('keydown', (event) => { if (event.key === 'Escape' && !panel.hidden && !$('#dialog').open) close(); });
  return { show, close };
}

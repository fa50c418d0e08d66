// The Users page: sign in with the bot id and its API key (kept in sessionStorage for this tab, sent as a
// Bearer token), then the users list, filters, actions, detail and settings, all over the public JSON API.

import { Api, forgetSignIn, saveSignIn, savedSignIn } from './api.js';
import { $, $$ } from './dom.js';
import { hashFromView, searchRequest, viewFromHash } from './view.js';
import { initFilters } from './filters.js';
import { initUsers } from './users.js';
import { watchFreshness } from './freshness.js';

let view = viewFromHash(location.hash);

function showSignIn(message = '') {
  $('#app').hidden = true;
  $('#signin').hidden = false;
  $('#signin-error').textContent = message;
  const saved = savedSignIn();
  if (saved) $('#signin-bot').value = saved.bot;
  $('#signin-key').focus();
}

function status(message, isError = false) {
  const line = $('#status');
  line.textContent = message;
  line.classList.toggle('error', isError);
}

function onError(error) {
  if (error.status === 401) {
    forgetSignIn();
    showSignIn('Your API key was not accepted for this bot. Sign in again.');
    return;
  }
  status(error.message || String(error), true);
}

async function start(api) {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#bot-name').textContent = api.bot;
  // The first screen needs the catalogue and one search: index.html's inline script sent both before the modules came.
  const boot = globalThis.chatlensBoot;
  const firstPage = boot.firstPage ? boot.firstPage.then((response) => api.parse(response)) : api.search(searchRequest(view));
  firstPage.catch(() => {});
  const catalogue = await (boot.catalogue ? boot.catalogue.then((response) => api.parse(response)) : api.columns());
  let users;
  const getView = () => view;
  const setView = (next) => {
    view = next;
    const hash = hashFromView(view);
    history.replaceState(null, '', hash || `${location.pathname}${location.search}`);
    filters.render(view.filter);
    users.reset();
  };
  const filters = initFilters({ catalogue, getView, onChange: (filter) => setView({ ...view, filter }) });
  let detail;
  let later = null;
  const rest = () => later || (later = Promise.all([import('./actions.js'), import('./detail.js'), import('./settings.js')]));
  users = initUsers({ api, catalogue, getView, setView, onError, firstPage,
                      onOpen: async (id) => { await rest(); detail.show(id); } });
  filters.render(view.filter);
  await users.reset();

  // Actions, detail and settings are not on the first screen: their modules load after it.
  const [{ initActions }, { initDetail }, { initSettings }] = await rest();
  const switchTab = (tab) => {
    for (const button of $$('.tabs button')) button.classList.toggle('active', button.dataset.tab === tab);
    $('#users-view').hidden = tab !== 'users';
    $('#settings-view').hidden = tab !== 'settings';
    if (tab === 'settings') settings.load();
  };
  const settings = initSettings({ api, getView, onError,
    showSegment: (value) => { switchTab('users'); setView({ ...view, filter: { match: 'all', filters: [{ column: 'segments', function: 'has', value }] } }); } });
  detail = initDetail({ api, catalogue, status, onError, onChanged: () => users.refresh() });
  const directLimit = new URLSearchParams(location.search).get('export_direct_limit');
  initActions({ api, getView, users, status, onError, segmentNames: () => settings.names(),
                exportOptions: () => (directLimit !== null ? { direct_limit: Number(directLimit) } : {}) });

  $('#refresh').addEventListener('click', async () => { status('Refreshing…'); await users.refresh(); status('Stats refreshed'); });
  window.addEventListener('hashchange', () => {   // a pasted link: show its view
    view = viewFromHash(location.hash);
    filters.render(view.filter);
    users.reset();
  });
  for (const button of $$('.tabs button')) button.addEventListener('click', () => switchTab(button.dataset.tab));
  watchFreshness();
  document.body.dataset.ready = 'true';
}

$('#signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const bot = $('#signin-bot').value.trim();
  const key = $('#signin-key').value.trim();
  const api = new Api(bot, key);
  try {
    await api.settings();   // any authorised read proves the key
  } catch (error) {
    $('#signin-error').textContent = error.status === 401
      ? 'Wrong bot id or API key: this key does not open that bot.' : `Cannot sign in: ${error.message}`;
    return;
  }
  saveSignIn(bot, key);
  location.reload();   // one way in: the page starts from the saved sign-in and the URL's view
});

$('#signout').addEventListener('click', () => { forgetSignIn(); location.reload(); });

const saved = savedSignIn();
if (saved) start(new Api(saved.bot, saved.key)).catch(onError);
else showSignIn();

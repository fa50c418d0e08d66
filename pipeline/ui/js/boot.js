// Runs first, as a classic script in <head>: what the users list shows (filter, columns, sort), how the URL's
// hash carries it (#filter=<JSON>&columns=name,email&sort=-last_seen, so a view can be shared and a reload
// restores it), the saved sign-in, and the first page of users, asked for at once while the modules load.
// The modules read all of it through js/view.js and js/api.js.
(() => {
  const STORAGE = 'chatlens.signin';   // sessionStorage: {bot, key}, this tab only
  const DEFAULT_COLUMNS = ['name', 'email', 'last_seen', 'first_seen'];
  const DEFAULT_SORT = { column: 'last_seen', direction: 'desc' };
  const PAGE_SIZE = 50;

  const emptyView = () => ({ filter: { match: 'all', filters: [] }, columns: [...DEFAULT_COLUMNS], sort: { ...DEFAULT_SORT } });

  function viewFromHash(hash) {
    const view = emptyView();
    const params = new URLSearchParams(hash.replace(/^#/, ''));
    if (params.has('filter')) {
      try {
        const filter = JSON.parse(params.get('filter'));
        if (filter && Array.isArray(filter.filters)) {
          view.filter = { match: filter.match === 'any' ? 'any' : 'all', filters: filter.filters };
        }
      } catch { /* a broken link shows everyone rather than nothing */ }
    }
    if (params.get('columns')) view.columns = params.get('columns').split(',').filter(Boolean);
    const sort = params.get('sort');
    if (sort) view.sort = { column: sort.replace(/^[-+]/, ''), direction: sort.startsWith('-') ? 'desc' : 'asc' };
    return view;
  }

  function hashFromView(view) {
    const params = new URLSearchParams();
    if (view.filter.filters.length) params.set('filter', JSON.stringify(view.filter));
    if (view.columns.join(',') !== DEFAULT_COLUMNS.join(',')) params.set('columns', view.columns.join(','));
    const { column, direction } = view.sort;
    if (column !== DEFAULT_SORT.column || direction !== DEFAULT_SORT.direction) {
      params.set('sort', `${direction === 'desc' ? '-' : '+'}${column}`);
    }
    const text = params.toString();
    return text ? `#${text}` : '';
  }

  const searchRequest = (view, cursor = null) => ({ filter: view.filter, columns: view.columns, sort: view.sort,
                                                    limit: PAGE_SIZE, cursor });

  function savedSignIn() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORAGE) || 'null');
      return saved && saved.bot && saved.key ? saved : null;
    } catch { return null; }
  }

  const saved = savedSignIn();
  const firstPage = saved && fetch(`/v1/bots/${encodeURIComponent(saved.bot)}/users/search`, {
    method: 'POST', body: JSON.stringify(searchRequest(viewFromHash(location.hash))),
    headers: { Authorization: `Bearer ${saved.key}`, 'Content-Type': 'application/json' } });
  if (firstPage) firstPage.catch(() => {});   // main.js reports a failure

  globalThis.chatlensBoot = { STORAGE, DEFAULT_COLUMNS, DEFAULT_SORT, PAGE_SIZE, emptyView, viewFromHash,
                              hashFromView, searchRequest, savedSignIn, firstPage };
})();

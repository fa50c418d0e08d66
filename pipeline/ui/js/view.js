// What the users list shows (filter, columns, sort) and how the URL's hash carries it, so a view can be
// shared and a reload restores it: #filter=<JSON>&columns=name,email&sort=-last_seen

export const DEFAULT_COLUMNS = ['name', 'email', 'last_seen', 'first_seen'];
export const DEFAULT_SORT = { column: 'last_seen', direction: 'desc' };

export function emptyView() {
  return { filter: { match: 'all', filters: [] }, columns: [...DEFAULT_COLUMNS], sort: { ...DEFAULT_SORT } };
}

export function viewFromHash(hash) {
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

export function hashFromView(view) {
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

// The view (filter, columns, sort) and its URL hash: defined by the inline script of index.html, which runs before any module.
export const { DEFAULT_COLUMNS, DEFAULT_SORT, PAGE_SIZE, emptyView, viewFromHash, hashFromView, searchRequest } =
  globalThis.chatlensBoot;

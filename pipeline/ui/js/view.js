// The view (filter, columns, sort) and its URL hash: defined in js/boot.js, which runs before any module.
export const { DEFAULT_COLUMNS, DEFAULT_SORT, PAGE_SIZE, emptyView, viewFromHash, hashFromView, searchRequest } =
  globalThis.chatlensBoot;

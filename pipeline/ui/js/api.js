// The public JSON API with the bot's key as a Bearer token. The only way the page reads or changes data.

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && (Array.isArray(body.detail) ? body.detail.join('; ') : body.detail);
    super(detail || (body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export class Api {
  constructor(bot, key) {
    this.bot = bot;
    this.key = key;
  }

  botPath(path) {
    return `/v1/bots/${encodeURIComponent(this.bot)}${path}`;
  }

  async fetch(method, path, body) {
    const headers = { Authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  }

  async json(method, path, body) {
    return this.parse(await this.fetch(method, path, body));
  }

  /** The JSON body of a response; an ApiError for any status but 2xx. */
  async parse(response) {
    const text = await response.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { detail: text.slice(0, 300) }; }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  get(path) { return this.json('GET', this.botPath(path)); }
  post(path, body) { return this.json('POST', this.botPath(path), body); }
  put(path, body) { return this.json('PUT', this.botPath(path), body); }
  patch(path, body) { return this.json('PATCH', this.botPath(path), body); }
  delete(path) { return this.json('DELETE', this.botPath(path)); }

  columns() { return this.json('GET', '/v1/columns'); }
  search(request) { return this.post('/users/search', request); }
  count(filter) { return this.post('/users/count', { filter }); }
  user(id) { return this.get(`/users/${encodeURIComponent(id)}`); }
  sessions(id) { return this.get(`/users/${encodeURIComponent(id)}/sessions`); }
  transcript(id) { return this.get(`/users/${encodeURIComponent(id)}/transcript`); }
  act(body) { return this.post('/users/actions', body); }
  settings() { return this.get('/settings'); }

  /** Resolves to null when the route does not exist on this server (a feature being built elsewhere). */
  async optional(path) {
    try {
      return await this.get(path);
    } catch (error) {
      if (error.status === 404 || error.status === 405) return null;
      throw error;
    }
  }
}

const { STORAGE } = globalThis.chatlensBoot;   // the inline script of index.html reads the saved sign-in before any module

export const { savedSignIn } = globalThis.chatlensBoot;
export function saveSignIn(bot, key) { sessionStorage.setItem(STORAGE, JSON.stringify({ bot, key })); }
export function forgetSignIn() { sessionStorage.removeItem(STORAGE); }

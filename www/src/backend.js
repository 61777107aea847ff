// The demo's own calls to the backend, outside the sync layer: signing in (GoTrue), and the
// band management screens (bands, memberships, profiles over PostgREST). Synced data — songs,
// setlists, shows, practices — goes through rockon-sync only. The session, the band list and
// the names are kept in localStorage, so the page starts offline too.

export class Backend {
  constructor({ url, anonKey }) {
    this.url = url;
    this.anonKey = anonKey;
    this.session = null;
  }

  /** Signs in, or — when the server cannot be reached — resumes the stored session. */
  async signIn(email, password) {
    try {
      return await this.#token('password', { email, password });
    } catch (error) {
      const stored = JSON.parse(localStorage.getItem(`rockon-demo:session:${email}`) ?? 'null');
      if (!stored || !(error instanceof TypeError)) throw error;
      this.session = stored;
      return stored;
    }
  }

  /** A fresh access token (refresh tokens rotate). */
  async refresh() {
    return this.#token('refresh_token', { refresh_token: this.session.refresh_token });
  }

  async #token(grant, body) {
    const response = await fetch(`${this.url}/auth/v1/token?grant_type=${grant}`, {
      method: 'POST',
      headers: { apikey: this.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const session = await response.json();
    if (!response.ok) throw new Error(session.error_description || session.msg || 'sign-in failed');
    this.session = session;
    localStorage.setItem(`rockon-demo:session:${session.user.email}`, JSON.stringify(session));
    return session;
  }

  async rest(method, path, body) {
    const response = await fetch(`${this.url}/rest/v1/${path}`, {
      method,
      headers: {
        apikey: this.anonKey,
        authorization: `Bearer ${this.session.access_token}`,
        'content-type': 'application/json',
        prefer: 'return=representation',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new Error(data?.message || `${method} ${path}: ${response.status}`);
    return data;
  }

  /** What `fetch` brings, remembered; what was remembered when it fails. */
  async #cached(key, fetch) {
    const name = `rockon-demo:${key}:${this.session.user.id}`;
    try {
      const value = await fetch();
      localStorage.setItem(name, JSON.stringify(value));
      return value;
    } catch (error) {
      const stored = localStorage.getItem(name);
      if (stored === null) throw error;
      return JSON.parse(stored);
    }
  }

  bands() {
    return this.#cached('bands', () => this.rest('GET', 'bands?select=id,name&deleted_at=is.null&order=name'));
  }

  createBand(name) {
    return this.rest('POST', 'bands', { id: crypto.randomUUID(), name });
  }

  members(bandId) {
    return this.rest('GET', `band_memberships?select=user_id,role&band_id=eq.${bandId}&deleted_at=is.null`);
  }

  addMember(bandId, userId) {
    return this.rest('POST', 'band_memberships', { band_id: bandId, user_id: userId, role: 'member' });
  }

  profiles() {
    return this.#cached('profiles', () => this.rest('GET', 'profiles?select=id,display_name&order=display_name'));
  }
}

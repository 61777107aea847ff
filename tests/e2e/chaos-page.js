// The page side of the chaos suite: one user's client on a bare page, with hooks the driver
// calls. It signs in again whenever the client asks for a token (expired tokens are one of the
// faults), and keeps signing in until the server answers (it may be down at page load).
import { SyncClient } from 'rockon-sync';

const params = new URLSearchParams(location.search);
const url = params.get('url');
const anonKey = params.get('anon');
const user = params.get('user');
const band = params.get('band');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function signIn() {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(`${url}/auth/v1/token?grant_type=password`, {
        method: 'POST', headers: { apikey: anonKey, 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${user}@rockon.test`, password: 'rockon' }),
      });
      if (response.ok) return await response.json();
    } catch {
      // The server is down or the page offline: try again.
    }
    if (attempt > 200) throw new Error('could not sign in');
    await sleep(300);
  }
}

const app = (row) => ({
  id: row.id, title: row.title ?? null, key: row.key ?? null, notes: row.notes ?? null,
  tempo: row.tempo ?? null, durationSeconds: row.durationSeconds ?? null, version: row.version,
});

async function main() {
  const session = await signIn();
  const client = await SyncClient.open({
    supabaseUrl: url, anonKey, accessToken: session.access_token, userId: session.user.id,
    databaseName: params.get('db'), retryInitialMs: 200, antiEntropyMs: 3000,
    changes: params.get('changes') || undefined,
  });
  client.on('auth', async () => client.setAuth((await signIn()).access_token));
  client.connect();
  if (params.get('debug')) {
    client.on('*', (event) => {
      if (['error', 'syncStatus', 'conflict', 'leader', 'storage', 'auth'].includes(event.type)) console.log(`event ${JSON.stringify(event)}`);
    });
  }
  window.chaos = {
    create: async (values) => (await client.create('songs', { bandId: band, ...values })).id,
    update: async (id, patch) => { await client.update('songs', id, patch); return true; },
    remove: async (id) => { await client.remove('songs', id); return true; },
    rows: async () => (await client.list('songs', band)).map(app),
    outbox: () => client.outbox(),
    conflicts: () => client.conflicts(),
    info: () => client.connectionInfo(),
    leader: () => client.isLeader(),
    // The outbox as stored, read past the client (for debugging the suite).
    stored: () => new Promise((resolve, reject) => {
      const open = indexedDB.open(params.get('db'));
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const request = open.result.transaction('outbox').objectStore('outbox').getAll();
        request.onsuccess = () => { resolve(request.result); open.result.close(); };
        request.onerror = () => reject(request.error);
      };
    }),
  };
  return true;
}

main().then(() => { window.ready = { ok: true }; }, (error) => { window.ready = { ok: false, error: String(error) }; });

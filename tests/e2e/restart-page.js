// The page side of the restart test: alice's client, live, with hooks for the driver.
import { SyncClient } from 'rockon-sync';

const params = new URLSearchParams(location.search);
const url = params.get('url');
const anonKey = params.get('anon');

async function main() {
  const response = await fetch(`${url}/auth/v1/token?grant_type=password`, {
    method: 'POST', headers: { apikey: anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'alice@rockon.test', password: 'rockon' }),
  });
  const session = await response.json();
  const client = await SyncClient.open({
    supabaseUrl: url, anonKey, accessToken: session.access_token, userId: session.user.id,
    databaseName: `restart-${Date.now()}`,
  });
  client.connect();
  window.client = client;
  window.has = async (id) => (await client.get('songs', id)) !== undefined;
  window.info = () => client.connectionInfo();
  return true;
}

main().then(() => { window.ready = { ok: true }; }, (error) => { window.ready = { ok: false, error: String(error) }; });

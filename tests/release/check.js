// Runs in the page: exercises the optimised package end to end over a real WebSocket, so a
// miscompiling optimiser or a broken glue file fails here and not in users' browsers.
import { RealtimeConnection, version } from 'rockon-sync';

const waitFor = async (predicate, what) => {
  for (let i = 0; i < 500; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
};

async function session(server, vsn) {
  const connection = new RealtimeConnection({ url: `${server}/realtime/v1`, apiKey: 'anon-key', vsn });
  const events = [];
  connection.on('*', (event) => events.push(event));
  connection.setAuth('user-jwt');
  const topic = connection.join('band:b1', {
    postgresChanges: [{ event: '*', schema: 'public', table: 'songs', filter: 'band_id=eq.b1' }],
  });
  connection.connect();
  await waitFor(() => events.some((e) => e.type === 'change'), `a change (vsn ${vsn})`);
  const change = events.find((e) => e.type === 'change');
  if (change.record.title !== 'Hello from songs') throw new Error(`wrong record ${JSON.stringify(change)}`);
  if (!events.some((e) => e.type === 'catchUp' && e.topic === topic)) throw new Error('no catch-up request');
  connection.leave(topic);
  await waitFor(() => events.some((e) => e.type === 'channel' && e.state === 'closed'), 'the leave');
  connection.disconnect();
  connection.free();
  return events.map((e) => e.type === 'channel' ? `channel:${e.state}` : e.type);
}

async function main() {
  const server = new URLSearchParams(location.search).get('server');
  const v2 = await session(server, '2.0.0');
  const v1 = await session(server, '1.0.0');
  let code;
  try {
    new RealtimeConnection({ apiKey: 'no url' });
  } catch (error) {
    code = error.code;
  }
  if (code !== 'invalid_options') throw new Error(`bad options gave ${code}`);
  return { version: version(), v2, v1 };
}

main().then(
  (result) => { window.releaseCheck = { ok: true, ...result }; },
  (error) => { window.releaseCheck = { ok: false, error: String(error && error.stack || error) }; },
);

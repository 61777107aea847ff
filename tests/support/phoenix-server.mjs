// A small scripted Phoenix/Realtime peer for the browser tests of the wasm crate. It speaks
// just enough of the protocol (vsn 1.0.0 and 2.0.0) to drive a client through a session:
// joins are answered with the bindings echoed in order with ids, followed by "Subscribed to
// PostgreSQL" and one INSERT per binding; heartbeats are answered; leaves are closed.
// `/echo` echoes every frame. Listens on 127.0.0.1 only.
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT || 47210);
const server = new WebSocketServer({ host: '127.0.0.1', port });
let nextBindingId = 100;

server.on('connection', (socket, request) => {
  const url = new URL(request.url, 'http://localhost');
  if (url.pathname === '/echo') {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    return;
  }
  if (!url.pathname.endsWith('/websocket') || !url.searchParams.get('apikey')) {
    socket.close(4001, 'bad path or missing apikey');
    return;
  }
  const v1 = url.searchParams.get('vsn') === '1.0.0';
  const send = (joinRef, ref, topic, event, payload) =>
    socket.send(JSON.stringify(v1 ? { topic, event, payload, ref } : [joinRef, ref, topic, event, payload]));

  socket.on('message', (data) => {
    let joinRef, ref, topic, event, payload;
    try {
      const frame = JSON.parse(data.toString());
      [joinRef, ref, topic, event, payload] = v1
        ? [frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload]
        : frame;
    } catch {
      return;
    }
    if (topic === 'phoenix' && event === 'heartbeat') {
      send(null, ref, 'phoenix', 'phx_reply', { status: 'ok', response: {} });
    } else if (event === 'phx_join') {
      const bindings = (payload.config.postgres_changes || []).map((b) => ({ ...b, id: nextBindingId++ }));
      if (!payload.access_token) {
        send(joinRef, ref, topic, 'phx_reply', { status: 'error', response: { reason: 'InvalidJWTToken: Fields `role` and `exp` are required in JWT' } });
        return;
      }
      send(joinRef, ref, topic, 'phx_reply', { status: 'ok', response: { postgres_changes: bindings } });
      if (bindings.length === 0) return;
      const channel = topic.replace(/^realtime:/, '');
      send(null, null, topic, 'system', { extension: 'postgres_changes', status: 'ok', message: 'Subscribed to PostgreSQL', channel });
      for (const binding of bindings) {
        send(null, null, topic, 'postgres_changes', {
          ids: [binding.id],
          data: {
            schema: binding.schema,
            table: binding.table,
            commit_timestamp: new Date().toISOString(),
            type: 'INSERT',
            columns: [{ name: 'id', type: 'uuid' }, { name: 'title', type: 'text' }],
            record: { id: `${binding.table}-1`, title: `Hello from ${binding.table}`, version: 1 },
            errors: null,
          },
        });
      }
    } else if (event === 'phx_leave') {
      send(joinRef, ref, topic, 'phx_reply', { status: 'ok', response: {} });
      send(joinRef, ref, topic, 'phx_close', {});
    }
  });
});

server.on('listening', () => console.log(`phoenix test server on ws://127.0.0.1:${port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));

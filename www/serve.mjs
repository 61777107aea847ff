// Serves the demo page on loopback: www/public, the webpack bundle (dist/demo) and
// config.json, which tells the page where the dev server is.
// Usage: node www/serve.mjs <port> <devserver url> <anon key>
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [port, url, anonKey] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const roots = [path.join(here, 'public'), path.resolve(here, '../dist/demo')];
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json' };
const config = JSON.stringify({ url, anonKey });

const server = http.createServer(async (request, response) => {
  const name = decodeURIComponent(new URL(request.url, 'http://x').pathname);
  if (name === '/config.json') {
    return response.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' }).end(config);
  }
  const relative = path.normalize(name === '/' ? '/index.html' : name).replace(/^(\.\.[/\\])+/, '');
  for (const root of roots) {
    try {
      const body = await readFile(path.join(root, relative));
      return response.writeHead(200, { 'content-type': TYPES[path.extname(relative)] ?? 'application/octet-stream' }).end(body);
    } catch {
      // Try the next root.
    }
  }
  response.writeHead(404).end('not found');
});
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`demo page ready http://127.0.0.1:${server.address().port}/`);
});

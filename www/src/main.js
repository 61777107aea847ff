// Boots the demo: sign in through the dev server's auth, open the sync client, render the app.
import { createRoot } from 'react-dom/client';
import { StrictMode } from 'react';
import { SyncClient } from 'rockon-sync';
import { SyncProvider } from 'rockon-sync/react';
import { App } from './app.js';
import { html } from './html.js';
import { Backend } from './backend.js';

const USERS = ['alice', 'bob', 'carol'];
const root = createRoot(document.getElementById('root'));
const params = new URLSearchParams(location.search);

async function start(config, user) {
  const backend = new Backend(config);
  const session = await backend.signIn(`${user}@rockon.test`, 'rockon');
  const client = await SyncClient.open({
    supabaseUrl: config.url, anonKey: config.anonKey,
    accessToken: session.access_token, userId: session.user.id,
    // The demo shows the developer dashboard; an app leaves this off.
    devtools: true,
  });
  // Keep the token fresh, and answer the client when it finds one expired.
  const refresh = async () => client.setAuth((await backend.refresh()).access_token);
  client.on('auth', () => refresh().catch(() => {}));
  setInterval(() => refresh().catch(() => {}), Math.max(30, session.expires_in * 0.8) * 1000);
  client.connect();
  const names = new Map((await backend.profiles()).map((p) => [p.id, p.display_name]));
  document.title = `RockOn — ${names.get(session.user.id) ?? user}`;
  window.rockon = { client };
  root.render(html`
    <${StrictMode}>
      <${SyncProvider} client=${client}>
        <${App} backend=${backend} me=${session.user.id} names=${names} />
      </${SyncProvider}>
    </${StrictMode}>`);
}

function SignIn({ config }) {
  const choose = (user) => {
    history.replaceState(null, '', `?user=${user}`);
    start(config, user).catch(showError);
  };
  return html`
    <div class="sign-in">
      <h1>RockOn</h1>
      <p>Sign in as a demo member (password “rockon”). Open another tab as someone else to watch changes sync.</p>
      ${USERS.map((user) => html`<button key=${user} data-testid=${`sign-in-${user}`} onClick=${() => choose(user)}>${user}</button>`)}
    </div>`;
}

function showError(error) {
  root.render(html`<p class="error fatal">Could not start: ${String(error.message ?? error)}</p>`);
}

const config = await (await fetch('config.json')).json();
const user = params.get('user');
if (USERS.includes(user)) start(config, user).catch(showError);
else root.render(html`<${SignIn} config=${config} />`);

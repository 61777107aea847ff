// Drives tests/react/page.js in headless Chromium against the dev server: hooks render the
// band's data, follow other members' changes, re-render only when their data changed, and
// show other users' text as text. Usage: node tests/react/run.mjs <devserver url> <anon key>
import { chromium } from 'playwright-core';
import { serve, CHROMIUM_FLAGS } from '../support/browser.mjs';

const [url, anon] = process.argv.slice(2);
const ROCKERS = '641657c9-9f8e-5c07-b44e-4ececddac108';
const BOB = 'a992f178-aa00-5f5d-bf95-e7d219c43e16';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function signIn(name) {
  const response = await fetch(`${url}/auth/v1/token?grant_type=password`, {
    method: 'POST', headers: { apikey: anon, 'content-type': 'application/json' },
    body: JSON.stringify({ email: `${name}@rockon.test`, password: 'rockon' }),
  });
  return (await response.json()).access_token;
}

async function insert(token, table, row) {
  const response = await fetch(`${url}/rest/v1/${table}`, {
    method: 'POST',
    headers: { apikey: anon, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(row),
  });
  if (response.status !== 201) throw new Error(`insert into ${table}: ${response.status} ${await response.text()}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const web = await serve('dist/react-test', 'page.js');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
const errors = [];
let failure = null;
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('dialog', (dialog) => { errors.push(`a dialog opened: ${dialog.message()}`); dialog.dismiss(); });
  await page.goto(`${web.url}?url=${encodeURIComponent(url)}&anon=${encodeURIComponent(anon)}&band=${ROCKERS}`);
  await page.waitForFunction(() => window.ready !== undefined);
  const boot = await page.evaluate(() => window.ready);
  if (!boot.ok) throw new Error(boot.error);
  await page.waitForFunction(() => document.querySelectorAll('#songs li').length >= 20, null, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector('#connection').textContent === 'connected', null, { timeout: 15000 });
  await page.waitForFunction((bob) => document.querySelector('#presence').textContent.includes(bob), BOB, { timeout: 10000 });

  // The app's own React Query query holds the count it fetched once the band is downloaded.
  await page.waitForFunction(() => window.downloaded(), null, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector('#queried').textContent !== '', null, { timeout: 10000 });
  const queriedBefore = Number(await page.textContent('#queried'));
  const fetchesBefore = await page.evaluate(() => window.queryFetches());

  // Alice adds a song whose title is markup: it appears as text, with a toast and a badge.
  const alice = await signIn('alice');
  const title = `<img src=x onerror=alert(1)> ${Date.now()}`;
  const id = crypto.randomUUID();
  await insert(alice, 'songs', { id, band_id: ROCKERS, title });
  await page.waitForFunction((row) => !!document.querySelector(`#songs li[data-id="${row}"]`), id, { timeout: 5000 });
  const shown = await page.textContent(`#songs li[data-id="${id}"]`);
  check(shown === title, `the title is shown as text: ${shown}`);
  check(await page.locator('#songs img, #toasts img').count() === 0, 'no element was made from the title');
  await page.waitForFunction(() => document.querySelector('#unread').textContent === '1', null, { timeout: 5000 });
  await page.waitForFunction((text) => [...document.querySelectorAll('#toasts li')].some((li) => li.textContent === text),
    `Alice added '${title}'`, { timeout: 5000 });
  // React Query refetched on its own key, invalidated by rockon-sync: the count moved on.
  await page.waitForFunction((n) => Number(document.querySelector('#queried').textContent) === n + 1, queriedBefore, { timeout: 5000 });
  check(await page.evaluate(() => window.queryFetches()) > fetchesBefore, 'the query fetched again');

  // A setlist changes: the songs list does not render again, the setlist count does.
  const before = await page.evaluate(() => ({ ...window.renders }));
  const setlists = Number(await page.textContent('#setlists'));
  await insert(alice, 'setlists', { id: crypto.randomUUID(), band_id: ROCKERS, name: 'Friday' });
  await page.waitForFunction((n) => Number(document.querySelector('#setlists').textContent) === n + 1, setlists, { timeout: 5000 });
  await sleep(300);
  const after = await page.evaluate(() => ({ ...window.renders }));
  check(after.songs === before.songs, `songs rendered ${after.songs - before.songs} more times for a setlist change`);
  check(after.setlists > before.setlists, 'the setlist count rendered');

  // Bob's own song: status goes from pending to synced; his own change is not unread.
  await page.waitForFunction(() => document.querySelector('#unread').textContent === '2', null, { timeout: 5000 });
  const own = await page.evaluate(() => window.createSong('Bob was here'));
  await page.waitForFunction((row) => document.querySelector('#watched')?.dataset.status === 'synced'
    && !!document.querySelector(`#songs li[data-id="${row}"]`), own, { timeout: 5000 });
  check(await page.textContent('#unread') === '2', 'own changes are never unread');
  await page.evaluate(() => window.unmount());
  check(errors.length === 0, `page errors: ${errors.join('; ')}`);
  console.log(`react: ok (StrictMode; songs rendered ${after.songs} times over ${before.songs} before a setlist change; markup shown as text; React Query refetched on a change)`);
} catch (error) {
  failure = error;
} finally {
  await browser.close();
  web.close();
}
if (failure) {
  console.error('react: FAILED', failure, errors);
  process.exit(1);
}

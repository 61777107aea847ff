// End to end through the demo page, as people use it: headless Chromium (playwright-core on
// Debian's binary), the demo served on loopback, and a dev server on its own PostgreSQL that
// this script starts, kills, restarts and stops. Every scenario asserts on what a person sees.
// Usage: node tests/e2e/demo.mjs <rockon-devserver binary>
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS } from '../support/browser.mjs';
import { start as startProcess, stop } from '../support/processes.mjs';
import { scenarios } from '../support/scenarios.mjs';

const BIN = process.argv[2];
const ROCKERS = '641657c9-9f8e-5c07-b44e-4ececddac108';
const ARTIFACTS = 'test-results';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The dev server's and the page's complaints show in the test's output.
const start = (command, args, prefix) => startProcess(command, args, prefix, { stderr: 'inherit' });

const { results, scenario, check } = scenarios();

// ---- servers ---------------------------------------------------------------------------

const postgres = start(BIN, ['postgres'], 'rockon-devserver postgres ');
const database = await postgres.line;
const port = String(20000 + Math.floor(Math.random() * 20000));
const serveArgs = ['serve', '--port', port, '--database-url', database, '--bootstrap'];
let devserver = start(BIN, serveArgs, 'rockon-devserver ready ');
const ready = JSON.parse(await devserver.line);
const page = start('node', ['www/serve.mjs', '0', ready.url, ready.anonKey], 'demo page ready ');
const demo = await page.line;

async function signIn(user) {
  const response = await fetch(`${ready.url}/auth/v1/token?grant_type=password`, {
    method: 'POST', headers: { apikey: ready.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email: `${user}@rockon.test`, password: 'rockon' }),
  });
  return (await response.json()).access_token;
}
async function rest(token, method, path, body) {
  const response = await fetch(`${ready.url}/rest/v1/${path}`, {
    method,
    headers: { apikey: ready.anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json', prefer: 'return=representation' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}

// ---- the page, as a person sees it -------------------------------------------------------

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
const dialogs = [];
const pageErrors = [];

async function open(context, user) {
  const tab = await context.newPage();
  tab.on('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.dismiss(); });
  tab.on('pageerror', (error) => pageErrors.push(`${user}: ${error}`));
  await tab.setViewportSize({ width: 1100, height: 760 });
  await tab.goto(`${demo}?user=${user}`);
  await connected(tab);
  return tab;
}
const connected = (tab, timeout = 15000) =>
  tab.waitForSelector('[data-testid=connection][data-state=connected]', { timeout });
const item = (tab, text) => tab.locator('[data-testid=item]', { hasText: text });
const itemLabel = (tab, text) => tab.locator('[data-testid=item-label]', { hasText: text });

async function createSong(tab, title) {
  await tab.click('[data-testid=new-item]');
  await tab.fill('[data-testid=editor] input[name=title]', title);
  await tab.click('[data-testid=save]');
  await item(tab, title).waitFor();
}

let failure = null;
try {
  const aliceContext = await browser.newContext();
  const bobContext = await browser.newContext();
  const carolContext = await browser.newContext();
  const alice = await open(aliceContext, 'alice');
  const bob = await open(bobContext, 'bob');
  const carol = await open(carolContext, 'carol');
  const title = `Wonderwall ${Date.now()}`;

  await scenario('1. alice creates, edits and deletes a song; bob sees each within 1 s, with a toast and an unread badge', async () => {
    const clicked = Date.now();
    await createSong(alice, title);
    await item(bob, title).waitFor({ timeout: 1000 });
    const shownAfter = Date.now() - clicked;
    await bob.locator('[data-testid=toast]', { hasText: `Alice added '${title}'` }).waitFor({ timeout: 4000 });
    await item(bob, title).locator('[data-testid=unread-badge]').waitFor();
    check(await bob.textContent('[data-testid=unread-songs]') >= '1', 'the section counts it');
    await item(bob, title).click();
    await item(bob, title).locator('[data-testid=unread-badge]').waitFor({ state: 'detached', timeout: 2000 });

    await item(alice, title).click();
    await alice.fill('[data-testid=editor] input[name=key]', 'F#m');
    await alice.click('[data-testid=save]');
    await bob.locator('[data-testid=item]', { hasText: title }).locator('.detail', { hasText: 'in F#m' })
      .waitFor({ timeout: 1000 });
    await bob.waitForFunction(() => document.querySelector('[data-testid=editor] input[name=key]')?.value === 'F#m',
      null, { timeout: 1000 });
    await mkdir(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: `${ARTIFACTS}/scenario1-alice.png` });
    await bob.screenshot({ path: `${ARTIFACTS}/scenario1-bob.png` });

    await item(alice, title).click();
    await alice.click('[data-testid=delete]');
    await item(bob, title).waitFor({ state: 'detached', timeout: 1000 });
    console.log(`     (bob saw alice's song ${shownAfter} ms after her click)`);
  });

  await scenario('6. carol, not a member, never sees the band\'s rows or notifications', async () => {
    const bands = await carol.locator('[data-testid=band-picker] option').allTextContents();
    check(!bands.includes('The Rockers'), `carol's bands: ${bands}`);
    check(await carol.locator(`text=${title}`).count() === 0, 'no trace of the song');
    check(await carol.locator('[data-testid=toast]', { hasText: 'Alice' }).count() === 0, 'no toasts about the band');
  });

  await scenario('7. a title with markup is shown as text everywhere', async () => {
    const markup = `<img src=x onerror=alert(1)> ${Date.now()}`;
    // Past the batching window of the changes above, so this one gets a toast of its own.
    await sleep(2100);
    await createSong(alice, markup);
    await itemLabel(bob, markup).waitFor({ timeout: 2000 });
    check(await itemLabel(bob, markup).textContent() === markup, 'the list shows the text');
    await bob.locator('[data-testid=toast]', { hasText: markup }).waitFor({ timeout: 4000 });
    await item(bob, markup).click();
    await bob.locator('[data-testid=editor] h3', { hasText: markup }).waitFor();
    for (const tab of [alice, bob]) {
      check(await tab.locator('main img, .toasts img').count() === 0, 'no element made from the title');
    }
    check(dialogs.length === 0, `a script ran: ${dialogs}`);
  });

  await scenario('10. bob sees that alice is editing the song; her change fills the fields he left alone and is offered for the one he is typing in', async () => {
    const song = `Together ${Date.now()}`;
    await createSong(alice, song);
    await item(bob, song).waitFor({ timeout: 2000 });
    await item(bob, song).click();
    await item(alice, song).click();
    // A client may send 5 presence updates per 30 s (Supabase closes the channel of one that
    // sends more: ClientPresenceRateLimitReached), so the client holds updates back beyond
    // that. The scenarios before this one may have spent the budget: an update can wait 30 s.
    const budget = 31000;
    await bob.locator('[data-testid=editors]', { hasText: 'Alice is editing this' }).waitFor({ timeout: budget });
    await alice.locator('[data-testid=editors]', { hasText: 'Bob is editing this' }).waitFor({ timeout: budget });
    await bob.fill('[data-testid=editor] input[name=title]', 'Bob draft');
    await alice.fill('[data-testid=editor] input[name=title]', `${song} (final)`);
    await alice.fill('[data-testid=editor] input[name=key]', 'Am');
    await alice.click('[data-testid=save]');
    await bob.waitForFunction(() => document.querySelector('[data-testid=editor] input[name=key]')?.value === 'Am',
      null, { timeout: 2000 });
    check(await bob.inputValue('[data-testid=editor] input[name=title]') === 'Bob draft', 'his typing is kept');
    await bob.locator('[data-testid=field-title].changed-remotely [data-testid=offer]', { hasText: `${song} (final)` })
      .waitFor({ timeout: 2000 });
    await bob.screenshot({ path: `${ARTIFACTS}/scenario10-bob.png` });
    await bob.click('[data-testid=field-title] [data-testid=take-theirs]');
    check(await bob.inputValue('[data-testid=editor] input[name=title]') === `${song} (final)`, 'theirs taken');
    check(await bob.locator('[data-testid=field-title].changed-remotely').count() === 0, 'no longer highlighted');
    await bob.click('[data-testid=editor] button:has-text("Close")');
    await bob.locator('[data-testid=editor]').waitFor({ state: 'detached' });
    await alice.locator('[data-testid=editors]').waitFor({ state: 'detached', timeout: budget });
  });

  await scenario('11. alice and bob (offline) retitle one song: bob is told at once and keeps his title from the editor, which reaches alice', async () => {
    const song = `Contested ${Date.now()}`;
    await createSong(alice, song);
    await item(bob, song).waitFor({ timeout: 2000 });
    await bob.click('[data-testid=offline]');
    await item(bob, song).click();
    await bob.fill('[data-testid=editor] input[name=title]', `${song} (bob)`);
    await bob.click('[data-testid=save]');
    await item(alice, song).click();
    await alice.fill('[data-testid=editor] input[name=title]', `${song} (alice)`);
    await alice.click('[data-testid=save]');
    await item(alice, `${song} (alice)`).locator('[data-testid=sync-status][data-status=synced]').waitFor({ timeout: 5000 });
    await bob.click('[data-testid=offline]');
    await bob.locator('[data-testid=toast]', { hasText: `Alice also changed '${song} (alice)': choose the values to keep` })
      .waitFor({ timeout: 10000 });
    await item(bob, `${song} (alice)`).locator('[data-testid=sync-status][data-status=conflict]').waitFor({ timeout: 5000 });
    await item(bob, `${song} (alice)`).click();
    const field = bob.locator('[data-testid=conflict-field][data-field=title]');
    await field.waitFor();
    check(await field.locator('[data-testid=value-mine]').textContent() === `${song} (bob)`, 'his value');
    check(await field.locator('[data-testid=value-theirs]').textContent() === `${song} (alice)`, 'her value');
    await bob.screenshot({ path: `${ARTIFACTS}/scenario11-bob.png` });
    await field.locator('[data-testid=pick-mine]').check();
    await bob.click('[data-testid=apply-picks]');
    await bob.locator('[data-testid=conflict]').waitFor({ state: 'detached', timeout: 5000 });
    await item(alice, `${song} (bob)`).waitFor({ timeout: 10000 });
    await item(bob, `${song} (bob)`).locator('[data-testid=sync-status][data-status=synced]').waitFor({ timeout: 10000 });
    await bob.click('[data-testid=editor] button:has-text("Close")');
  });

  await scenario('12. bob\'s bell lists alice\'s changes with an unread count that agrees with the badges and survives a reload', async () => {
    await bob.click('[data-testid=activity-bell]');
    await bob.locator('[data-testid=activity-list]').waitFor();
    if (await bob.locator('[data-testid=activity-count]').count()) await bob.click('[data-testid=activity-read-all]');
    await bob.locator('[data-testid=activity-count]').waitFor({ state: 'detached', timeout: 2000 });
    const stamp = Date.now();
    await createSong(alice, `Bell one ${stamp}`);
    await createSong(alice, `Bell two ${stamp}`);
    await bob.waitForFunction(() => document.querySelector('[data-testid=activity-count]')?.textContent === '2',
      null, { timeout: 5000 });
    const entries = bob.locator('[data-testid=activity-entry]');
    check((await entries.nth(0).textContent()).startsWith(`Alice added 'Bell two ${stamp}'`), 'newest first');
    check((await entries.nth(1).textContent()).startsWith(`Alice added 'Bell one ${stamp}'`), 'then the older one');
    await bob.screenshot({ path: `${ARTIFACTS}/scenario12-bob.png` });
    // Reading the entry reads the song (and opens it, closing the list): its badge goes, and
    // the count with it.
    await item(bob, `Bell one ${stamp}`).locator('[data-testid=unread-badge]').waitFor();
    await entries.nth(1).click();
    await bob.locator('[data-testid=activity-list]').waitFor({ state: 'detached' });
    await bob.locator('[data-testid=editor] h3', { hasText: `Bell one ${stamp}` }).waitFor();
    await item(bob, `Bell one ${stamp}`).locator('[data-testid=unread-badge]').waitFor({ state: 'detached', timeout: 2000 });
    await bob.waitForFunction(() => document.querySelector('[data-testid=activity-count]')?.textContent === '1',
      null, { timeout: 2000 });
    // Opening the other song from the list reads its entry.
    await item(bob, `Bell two ${stamp}`).click();
    await bob.locator('[data-testid=activity-count]').waitFor({ state: 'detached', timeout: 2000 });
    await createSong(alice, `Bell three ${stamp}`);
    await bob.waitForFunction(() => document.querySelector('[data-testid=activity-count]')?.textContent === '1',
      null, { timeout: 5000 });
    await bob.reload();
    await connected(bob);
    await bob.waitForFunction(() => document.querySelector('[data-testid=activity-count]')?.textContent === '1',
      null, { timeout: 5000 });
    await bob.click('[data-testid=activity-bell]');
    const kept = await bob.locator('[data-testid=activity-entry]').allTextContents();
    check(kept[0].startsWith(`Alice added 'Bell three ${stamp}'`), `after the reload: ${kept.slice(0, 3)}`);
    check(kept.some((text) => text.startsWith(`Alice added 'Bell one ${stamp}'`)), 'older entries kept');
    check(await bob.locator('[data-testid=activity-entry][data-read=false]').count() === 1, 'one unread');
    await bob.click('[data-testid=activity-bell]');
  });

  await scenario('13. alice\'s first change shows as a toast at once; her next two within the window turn that same toast into "3 changes by Alice"', async () => {
    // Past the batching window of the changes above.
    await sleep(2100);
    const stamp = Date.now();
    const clicked = Date.now();
    await createSong(alice, `Toast one ${stamp}`);
    const first = bob.locator('[data-testid=toast]', { hasText: `Alice added 'Toast one ${stamp}'` });
    await first.waitFor({ timeout: 1000 });
    const shownAfter = Date.now() - clicked;
    const id = await first.getAttribute('data-toast-id');
    await createSong(alice, `Toast two ${stamp}`);
    await createSong(alice, `Toast three ${stamp}`);
    await bob.locator(`[data-testid=toast][data-toast-id="${id}"]`, { hasText: '3 changes by Alice' }).waitFor({ timeout: 4000 });
    check(await bob.locator('[data-testid=toast]', { hasText: `Toast two ${stamp}` }).count() === 0, 'no toast of its own');
    check(await bob.locator('[data-testid=toast]', { hasText: `Toast one ${stamp}` }).count() === 0, 'the first toast grew in place');
    console.log(`     (bob's toast showed ${shownAfter} ms after alice's click)`);
  });

  await scenario('14. on a device short of storage, a song that does not fit is refused with nothing lost, and goes through once space is back', async () => {
    // Chromium's own quota for the page's origin (as DevTools' "simulate custom storage quota"),
    // set before this new profile stores anything: IndexedDB refuses what goes past 1 MB.
    const context = await browser.newContext();
    const tab = await context.newPage();
    tab.on('pageerror', (error) => pageErrors.push(`bob (small device): ${error}`));
    await tab.setViewportSize({ width: 1100, height: 760 });
    const cdp = await context.newCDPSession(tab);
    const origin = new URL(demo).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1_000_000 });
    try {
      await tab.goto(`${demo}?user=bob`);
      await connected(tab);
      await tab.locator('[data-testid=item]').first().waitFor();
      const before = await tab.locator('[data-testid=item]').count();
      const title = `Too big ${Date.now()}`;
      await tab.click('[data-testid=new-item]');
      await tab.fill('[data-testid=editor] input[name=title]', title);
      // Random text: IndexedDB compresses large values, and a repeated one would fit.
      await tab.fill('[data-testid=editor] textarea[name=notes]', randomBytes(1_100_000).toString('base64'));
      await tab.click('[data-testid=save]');
      await tab.locator('[data-testid=editor] .error', { hasText: 'quota_exceeded' }).waitFor({ timeout: 5000 });
      check(await tab.locator('[data-testid=item]').count() === before, 'nothing half-written');
      check(await tab.locator('[data-testid=pending-count]').count() === 0, 'nothing queued');
      check(await item(alice, title).count() === 0, 'nothing sent');
      await tab.screenshot({ path: `${ARTIFACTS}/scenario14-bob.png` });
      // Space is back: the same form saves, and the song reaches alice.
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      await tab.click('[data-testid=save]');
      await item(tab, title).waitFor({ timeout: 5000 });
      await item(alice, title).waitFor({ timeout: 10000 });
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      await context.close();
    }
  });

  await scenario('15. alice\'s dashboard: requests with status and timing, a latency chart, and a conflict made with the simulator, logged and still there after a reload', async () => {
    const song = `Simulated ${Date.now()}`;
    await createSong(alice, song);
    const id = await item(alice, song).getAttribute('data-id');
    await alice.click('[data-testid=dashboard-button]');
    await alice.locator('[data-testid=dashboard]').waitFor();
    await alice.locator('[data-testid=request]', { hasText: 'POST' }).first().waitFor({ timeout: 5000 });
    check(Number(await alice.getAttribute('[data-testid=latency-chart]', 'data-points')) > 0, 'changes from bob were timed');
    await alice.click('[data-testid=dashboard-button]');
    // alice edits offline while "bob" edits the same title on the server.
    await alice.click('[data-testid=offline]');
    await item(alice, song).click();
    await alice.fill('[data-testid=editor] input[name=title]', `${song} (alice)`);
    await alice.click('[data-testid=save]');
    await alice.click('[data-testid=dashboard-button]');
    await alice.selectOption('[data-testid=sim-row]', id);
    await alice.selectOption('[data-testid=sim-field]', 'title');
    await alice.fill('[data-testid=sim-value]', `${song} (simulated bob)`);
    await alice.selectOption('[data-testid=sim-as]', 'bob');
    await alice.click('[data-testid=sim-run]');
    await alice.locator('[data-testid=sim-result]', { hasText: 'Changed on the server as bob' }).waitFor({ timeout: 5000 });
    await alice.click('[data-testid=offline]');
    await alice.locator(`[data-testid=item][data-id="${id}"] [data-testid=sync-status][data-status=conflict]`).waitFor({ timeout: 10000 });
    await alice.selectOption('[data-testid=log-kind]', 'conflict');
    await alice.locator('[data-testid=log-entry][data-kind=conflict]').first().waitFor({ timeout: 5000 });
    await alice.screenshot({ path: `${ARTIFACTS}/scenario15-alice.png` });
    await alice.reload();
    await connected(alice);
    await alice.click('[data-testid=dashboard-button]');
    await alice.selectOption('[data-testid=log-kind]', 'conflict');
    // The filtered log replaces the whole one: conflicts only, the one from before the reload.
    await alice.waitForFunction(() => {
      const entries = [...document.querySelectorAll('[data-testid=log-entry]')];
      return entries.length > 0 && entries.every((entry) => entry.dataset.kind === 'conflict');
    }, null, { timeout: 5000 });
    await alice.click('[data-testid=dashboard-button]');
    await alice.locator(`[data-testid=item][data-id="${id}"]`).click();
    await alice.click('[data-testid=keep-theirs]');
    await alice.locator(`[data-testid=item][data-id="${id}"] [data-testid=sync-status][data-status=synced]`).waitFor({ timeout: 10000 });
    await alice.click('[data-testid=editor] button:has-text("Close")');
  });

  await scenario('2. alice in two tabs: both show every change; closing the leading tab keeps the other syncing', async () => {
    const second = await open(aliceContext, 'alice');
    const leader = await alice.evaluate(() => window.rockon.client.isLeader());
    check(leader && !(await second.evaluate(() => window.rockon.client.isLeader())), 'the first tab leads');
    const token = await signIn('bob');
    const fromBob = `From bob ${Date.now()}`;
    await rest(token, 'POST', 'songs', { id: crypto.randomUUID(), band_id: ROCKERS, title: fromBob });
    await item(alice, fromBob).waitFor({ timeout: 2000 });
    await item(second, fromBob).waitFor({ timeout: 2000 });
    const fromSecond = `From alice's second tab ${Date.now()}`;
    await createSong(second, fromSecond);
    await item(bob, fromSecond).waitFor({ timeout: 2000 });
    await alice.close();
    const closed = Date.now();
    await second.waitForFunction(() => window.rockon.client.isLeader(), null, { timeout: 2000 });
    const takeover = Date.now() - closed;
    await connected(second, 5000);
    const later = `After the first tab closed ${Date.now()}`;
    await rest(token, 'POST', 'songs', { id: crypto.randomUUID(), band_id: ROCKERS, title: later });
    await item(second, later).waitFor({ timeout: 3000 });
    await createSong(second, `${later} (reply)`);
    await item(bob, `${later} (reply)`).waitFor({ timeout: 3000 });
    console.log(`     (the second tab took over in ${takeover} ms)`);
    globalThis.aliceTab = second;
  });

  await scenario('2b. ten tabs of alice: one leads; when it closes another leads within 2 s; every tab\'s write lands once', async () => {
    const tabs = [globalThis.aliceTab];
    for (let n = 1; n < 10; n += 1) tabs.push(await open(aliceContext, 'alice'));
    const leaders = async () => (await Promise.all(tabs.map((t) => t.evaluate(() => window.rockon.client.isLeader()))))
      .filter(Boolean).length;
    check(await leaders() === 1, 'one leader among ten');
    const tag = `ten-tabs-${Date.now()}`;
    await Promise.all(tabs.map((t, n) => t.evaluate(({ band, title }) =>
      window.rockon.client.create('songs', { bandId: band, title }), { band: ROCKERS, title: `${tag} ${n}` })));
    const leader = (await Promise.all(tabs.map((t) => t.evaluate(() => window.rockon.client.isLeader())))).indexOf(true);
    const [closing] = tabs.splice(leader, 1);
    await closing.close();
    const closed = Date.now();
    await Promise.any(tabs.map((t) => t.waitForFunction(() => window.rockon.client.isLeader(), null, { timeout: 2000 })));
    const takeover = Date.now() - closed;
    check(await leaders() === 1, 'one leader among nine');
    await item(bob, `${tag} 9`).waitFor({ timeout: 10000 });
    const token = await signIn('bob');
    await bob.waitForFunction((tag) =>
      [...document.querySelectorAll('[data-testid=item-label]')].filter((e) => e.textContent.startsWith(tag)).length === 10,
    tag, { timeout: 10000 });
    const rows = (await rest(token, 'GET', `songs?select=title&band_id=eq.${ROCKERS}`)).filter((r) => r.title.startsWith(tag));
    check(rows.length === 10, `each tab's write once on the server: ${rows.length}`);
    globalThis.aliceTab = tabs.shift();
    for (const t of tabs) await t.close();
    console.log(`     (a new leader in ${takeover} ms)`);
  });

  await scenario('3. alice offline: 20 edits across tables, a reload, back online: all reach bob, none twice', async () => {
    const tab = globalThis.aliceTab;
    const tag = `offline-${Date.now()}`;
    await aliceContext.setOffline(true);
    await tab.locator('[data-testid=connection]:not([data-state=connected])').waitFor({ timeout: 5000 });
    await tab.evaluate(async ({ band, tag }) => {
      const client = window.rockon.client;
      for (let n = 0; n < 8; n += 1) await client.create('songs', { bandId: band, title: `${tag} song ${n}` });
      for (let n = 0; n < 4; n += 1) await client.create('setlists', { bandId: band, name: `${tag} setlist ${n}` });
      for (let n = 0; n < 4; n += 1) await client.create('shows', { bandId: band, name: `${tag} show ${n}` });
      for (let n = 0; n < 4; n += 1) {
        await client.create('practice_sessions', { bandId: band, scheduledAt: new Date().toISOString(), location: `${tag} room ${n}` });
      }
    }, { band: ROCKERS, tag });
    check(await item(tab, `${tag} song 7`).count() === 1, 'the edits show at once, offline');
    // The navigation says how many writes wait.
    await tab.waitForFunction(() => /^\d+ pending$/.test(document.querySelector('[data-testid=pending-count]')?.textContent ?? ''), null, { timeout: 5000 });
    const waiting = Number((await tab.textContent('[data-testid=pending-count]')).split(' ')[0]);
    check(waiting >= 20, `the navigation counts the waiting writes: ${waiting}`);
    // Reload while the server stays unreachable (its REST refused), so the writes must
    // survive in the outbox; then the network comes back.
    await aliceContext.route(`${ready.url}/rest/**`, (route) => route.abort());
    await aliceContext.setOffline(false);
    await tab.reload();
    await item(tab, `${tag} song 7`).waitFor({ timeout: 10000 });
    await aliceContext.unroute(`${ready.url}/rest/**`);
    await tab.evaluate(() => window.rockon.client.forceSync());
    await item(bob, `${tag} song 7`).waitFor({ timeout: 15000 });
    // Once everything is on the server, the count goes and the last sync is recent.
    await tab.locator('[data-testid=pending-count]').waitFor({ state: 'detached', timeout: 15000 });
    check(/^synced (just now|\d+ s ago)$/.test(await tab.textContent('[data-testid=last-synced]')), 'synced just now');
    for (const [section, count] of [['songs', 8], ['setlists', 4], ['shows', 4], ['practice_sessions', 4]]) {
      await bob.click(`[data-testid=section-${section}]`);
      await bob.waitForFunction(({ tag, count }) =>
        [...document.querySelectorAll('[data-testid=item-label]')].filter((e) => e.textContent.includes(tag)).length === count,
      { tag, count }, { timeout: 15000 });
    }
    await bob.click('[data-testid=section-songs]');
    const token = await signIn('bob');
    const rows = await rest(token, 'GET', `songs?select=title&band_id=eq.${ROCKERS}`);
    const mine = rows.filter((row) => row.title.startsWith(tag));
    check(mine.length === 8, `the server holds each song once: ${mine.length}`);
  });

  await scenario('4. the dev server is killed and restarted: both tabs reconnect and converge', async () => {
    const tab = globalThis.aliceTab;
    await stop(devserver.child);
    await tab.locator('[data-testid=connection]:not([data-state=connected])').waitFor({ timeout: 10000 });
    const during = `Written during the outage ${Date.now()}`;
    await createSong(tab, during);
    devserver = start(BIN, serveArgs, 'rockon-devserver ready ');
    await devserver.line;
    await connected(tab, 45000);
    await connected(bob, 45000);
    await item(bob, during).waitFor({ timeout: 15000 });
    const after = `After the restart ${Date.now()}`;
    await createSong(bob, after);
    await item(tab, after).waitFor({ timeout: 5000 });
  });

  await scenario('5. alice creates a band and adds bob: bob\'s tab shows it and its changes without a reload', async () => {
    const tab = globalThis.aliceTab;
    const band = `The Newcomers ${Date.now()}`;
    await tab.click('[data-testid=bands-button]');
    await tab.fill('[data-testid=band-name]', band);
    await tab.click('[data-testid=create-band]');
    await tab.locator('[data-testid=band-picker] option', { hasText: band }).waitFor({ state: 'attached', timeout: 5000 });
    const bandId = await tab.locator('[data-testid=band-picker] option', { hasText: band }).getAttribute('value');
    await tab.selectOption('[data-testid=band-picker]', bandId);
    await tab.click('[data-testid=add-bob]');
    await tab.click('[data-testid=bands-button]');
    await bob.locator('[data-testid=band-picker] option', { hasText: band }).waitFor({ state: 'attached', timeout: 5000 });
    const first = `First song of ${band}`;
    await createSong(tab, first);
    await bob.selectOption('[data-testid=band-picker]', bandId);
    await item(bob, first).waitFor({ timeout: 5000 });
    const second = `Second song of ${band}`;
    await createSong(tab, second);
    await item(bob, second).waitFor({ timeout: 2000 });
    check(await carol.locator('[data-testid=band-picker] option', { hasText: band }).count() === 0, 'carol is not in it');
  });

  await scenario('8. with REST and auth unreachable, the demo starts from the cached session and data, takes an edit, then goes live and syncs it', async () => {
    const tab = globalThis.aliceTab;
    // Nothing of the dev server answers: auth, REST and the socket all fail.
    await aliceContext.route(`${ready.url}/**`, (route) => route.abort());
    await tab.reload();
    await tab.locator('[data-testid=item]').first().waitFor({ timeout: 10000 });
    check(await tab.locator('.error.fatal').count() === 0, 'the app started');
    const written = `Written while the server was down ${Date.now()}`;
    await createSong(tab, written);
    await item(tab, written).locator('[data-testid=sync-status][data-status=pending]').waitFor({ timeout: 5000 });
    await aliceContext.unroute(`${ready.url}/**`);
    await connected(tab, 45000);
    await item(bob, written).waitFor({ timeout: 15000 });
    await item(tab, written).locator('[data-testid=sync-status][data-status=synced]').waitFor({ timeout: 15000 });
    // Live again: a change by bob reaches the restarted tab.
    const after = `After an unreachable start ${Date.now()}`;
    await createSong(bob, after);
    await item(tab, after).waitFor({ timeout: 10000 });
  });

  check(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  console.log(`demo e2e: ok (${results.length} scenarios; screenshots in ${ARTIFACTS}/)`);
} catch (error) {
  failure = error;
} finally {
  await browser.close();
  await stop(page.child);
  await stop(devserver.child);
  await stop(postgres.child);
}
if (failure) {
  console.error('demo e2e: FAILED', failure);
  process.exit(1);
}

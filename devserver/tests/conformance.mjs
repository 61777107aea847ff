// The official supabase-js client against the dev server, unchanged: auth, postgrest-js and
// realtime-js at vsn 2.0.0 and 1.0.0. Usage: node devserver/tests/conformance.mjs <url> <anonKey>
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

const [url, anonKey] = process.argv.slice(2);
const ROCKERS = '641657c9-9f8e-5c07-b44e-4ececddac108';
let passed = 0;
let failed = 0;

async function test(name, body) {
  try {
    await body();
    passed++;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}\n     ${error && error.stack || error}`);
  }
}

function client(vsn = '2.0.0') {
  return createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket, vsn, heartbeatIntervalMs: 5000 },
  });
}

async function signedIn(user, vsn) {
  const supabase = client(vsn);
  const { data, error } = await supabase.auth.signInWithPassword({ email: `${user}@rockon.test`, password: 'rockon' });
  assert.equal(error, null, `sign-in of ${user}`);
  supabase.realtime.setAuth(data.session.access_token);
  return { supabase, session: data.session };
}

const waitFor = async (predicate, what, ms = 5000) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
};

async function subscribe(supabase, name, table) {
  const events = [];
  let status;
  const channel = supabase
    .channel(name)
    .on('postgres_changes', { event: '*', schema: 'public', table, filter: `band_id=eq.${ROCKERS}` }, (p) => events.push(p))
    .subscribe((s) => { status = s; });
  await waitFor(() => status === 'SUBSCRIBED', `${name} to subscribe`);
  return { channel, events };
}

await test('password sign-in, user, refresh and bad credentials', async () => {
  const { supabase, session } = await signedIn('alice');
  assert.equal(session.user.email, 'alice@rockon.test');
  const { data: user } = await supabase.auth.getUser(session.access_token);
  assert.equal(user.user.id, session.user.id);
  const { data: refreshed, error } = await supabase.auth.refreshSession({ refresh_token: session.refresh_token });
  assert.equal(error, null);
  assert.ok(refreshed.session.access_token);
  const reused = await supabase.auth.refreshSession({ refresh_token: session.refresh_token });
  assert.ok(reused.error, 'a refresh token works once');
  const bad = await client().auth.signInWithPassword({ email: 'alice@rockon.test', password: 'nope' });
  assert.equal(bad.error.status, 400);
});

for (const vsn of ['2.0.0', '1.0.0']) {
  await test(`realtime-js ${vsn}: bob's insert, update and tombstone reach alice; carol sees nothing`, async () => {
    const alice = await signedIn('alice', vsn);
    const bob = await signedIn('bob', vsn);
    const carol = await signedIn('carol', vsn);
    const forAlice = await subscribe(alice.supabase, `band-alice-${vsn}`, 'songs');
    const forCarol = await subscribe(carol.supabase, `band-carol-${vsn}`, 'songs');
    const id = randomUUID();
    const inserted = await bob.supabase.from('songs').insert({ id, band_id: ROCKERS, title: 'Wonderwall (demo)' }).select().single();
    assert.equal(inserted.error, null);
    assert.equal(inserted.data.version, 1);
    assert.equal(inserted.data.created_by, bob.session.user.id);
    const updated = await bob.supabase.from('songs').update({ title: 'Wonderwall (live)' }).eq('id', id).eq('version', 1).select();
    assert.equal(updated.data.length, 1);
    assert.equal(updated.data[0].version, 2);
    const stale = await bob.supabase.from('songs').update({ title: 'lost' }).eq('id', id).eq('version', 1).select();
    assert.deepEqual(stale.data, [], 'a conditional update on an old version matches nothing');
    // Members tombstone rows; a hard delete is refused by the policies (it matches nothing).
    const hardDelete = await bob.supabase.from('songs').delete().eq('id', id).select();
    assert.deepEqual(hardDelete.data, [], 'a member cannot hard-delete a synced row');
    const removed = await bob.supabase.from('songs').update({ deleted_at: new Date().toISOString() }).eq('id', id).select();
    assert.equal(removed.error, null);
    assert.equal(removed.data.length, 1);
    await waitFor(() => forAlice.events.filter((e) => (e.new && e.new.id === id) || (e.old && e.old.id === id)).length === 3, 'three changes');
    const mine = forAlice.events.filter((e) => (e.new && e.new.id === id) || (e.old && e.old.id === id));
    assert.deepEqual(mine.map((e) => e.eventType), ['INSERT', 'UPDATE', 'UPDATE']);
    assert.equal(mine[0].new.title, 'Wonderwall (demo)');
    assert.equal(mine[0].schema, 'public');
    assert.equal(mine[0].table, 'songs');
    assert.match(mine[0].commit_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(mine[1].new.version, 2);
    assert.equal(mine[1].new.last_modified_by, bob.session.user.id);
    assert.ok(mine[2].new.deleted_at, 'the tombstone carries the server time of the delete');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(forCarol.events.length, 0, 'carol is not in the band');
    for (const c of [alice, bob, carol]) await c.supabase.removeAllChannels();
  });
}

for (const vsn of ['2.0.0', '1.0.0']) {
  await test(`realtime-js ${vsn}: Broadcast from Database on the private band topic reaches alice; carol is refused at join`, async () => {
    const alice = await signedIn('alice', vsn);
    const bob = await signedIn('bob', vsn);
    const carol = await signedIn('carol', vsn);
    const received = [];
    let aliceStatus;
    const forAlice = alice.supabase
      .channel(`band:${ROCKERS}`, { config: { private: true } })
      .on('broadcast', { event: '*' }, (message) => received.push(message))
      .subscribe((status) => { aliceStatus = status; });
    await waitFor(() => aliceStatus === 'SUBSCRIBED', 'alice to join the private band topic');
    let carolStatus;
    let carolError;
    const carolReceived = [];
    carol.supabase
      .channel(`band:${ROCKERS}`, { config: { private: true } })
      .on('broadcast', { event: '*' }, (message) => carolReceived.push(message))
      .subscribe((status, error) => { carolStatus = status; carolError = error; });
    await waitFor(() => carolStatus === 'CHANNEL_ERROR', 'carol to be refused');
    assert.match(String(carolError && carolError.message), /Unauthorized/);

    const id = randomUUID();
    const inserted = await bob.supabase.from('songs').insert({ id, band_id: ROCKERS, title: 'Karma Police' }).select().single();
    assert.equal(inserted.error, null);
    const updated = await bob.supabase.from('songs').update({ title: 'Karma Police (live)' }).eq('id', id).select();
    assert.equal(updated.error, null);
    const mine = () => received.filter((m) => m.payload.record && m.payload.record.id === id);
    await waitFor(() => mine().length === 2, 'two broadcasts');
    const [insert, update] = mine();
    assert.equal(insert.type, 'broadcast');
    assert.equal(insert.event, 'INSERT');
    assert.equal(insert.payload.operation, 'INSERT');
    assert.equal(insert.payload.table, 'songs');
    assert.equal(insert.payload.schema, 'public');
    assert.equal(insert.payload.record.title, 'Karma Police');
    assert.equal(insert.payload.old_record, null);
    assert.equal(update.event, 'UPDATE');
    assert.equal(update.payload.record.version, 2);
    assert.equal(update.payload.old_record.title, 'Karma Police');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(carolReceived.length, 0, 'nothing reaches carol');
    for (const c of [alice, bob, carol]) await c.supabase.removeAllChannels();
  });
}

await test('carol cannot read or write the band\'s rows', async () => {
  const carol = await signedIn('carol');
  const read = await carol.supabase.from('songs').select('id').eq('band_id', ROCKERS);
  assert.deepEqual(read.data, []);
  const write = await carol.supabase.from('songs').insert({ id: randomUUID(), band_id: ROCKERS, title: 'sneaky' });
  assert.equal(write.status, 403);
  assert.equal(write.error.code, '42501');
  const update = await carol.supabase.from('songs').update({ title: 'x' }).eq('band_id', ROCKERS).select();
  assert.deepEqual(update.data, []);
});

await test('errors have PostgREST\'s shape', async () => {
  const bob = await signedIn('bob');
  const unknown = await bob.supabase.from('songs').select('nope');
  assert.equal(unknown.status, 400);
  for (const key of ['code', 'message', 'details', 'hint']) assert.ok(key in unknown.error, key);
  const duplicate = await bob.supabase.from('songs').insert({ id: randomUUID(), band_id: ROCKERS, title: null });
  assert.equal(duplicate.status, 400);
  assert.equal(duplicate.error.code, '23502');
  const anonymous = await client().from('songs').select('id');
  assert.deepEqual(anonymous.data, [], 'anonymous callers see no rows');
  const expired = await fetch(`${url}/rest/v1/songs`, { headers: { apikey: anonKey, Authorization: 'Bearer not.a.jwt' } });
  assert.equal(expired.status, 401);
  assert.equal((await expired.json()).code, 'PGRST301');
});

await test('a counted select: count exact with a page of rows', async () => {
  const { supabase } = await signedIn('bob');
  const all = await supabase.from('songs').select('id').eq('band_id', ROCKERS);
  assert.equal(all.error, null);
  const page = await supabase.from('songs').select('id', { count: 'exact' }).eq('band_id', ROCKERS).order('id').limit(5);
  assert.equal(page.error, null);
  assert.equal(page.data.length, 5);
  assert.equal(page.count, all.data.length);
  assert.equal(page.status, 206, 'part of the rows is partial content, as PostgREST answers');
});

await test('upsert with on_conflict and merge-duplicates', async () => {
  const bob = await signedIn('bob');
  const id = randomUUID();
  const first = await bob.supabase.from('shows').upsert({ id, band_id: ROCKERS, name: 'Gig' }, { onConflict: 'id' }).select().single();
  assert.equal(first.data.version, 1);
  const second = await bob.supabase.from('shows').upsert({ id, band_id: ROCKERS, name: 'Gig (moved)' }, { onConflict: 'id' }).select().single();
  assert.equal(second.data.version, 2);
  assert.equal(second.data.name, 'Gig (moved)');
  const list = await bob.supabase.from('shows').select('id,name').in('id', [id]).order('name', { ascending: true }).limit(5);
  assert.equal(list.data.length, 1);
});

await test('filters apps use: like, ilike, not, is, cs, ov, text search, a nested or', async () => {
  const bob = await signedIn('bob');
  const songs = () => bob.supabase.from('songs').select('title').eq('band_id', ROCKERS).is('deleted_at', null);
  const titles = (result) => { assert.equal(result.error, null, JSON.stringify(result.error)); return result.data.map((r) => r.title).sort(); };
  assert.deepEqual(titles(await songs().like('title', 'Wonder*')), ['Wonderwall']);
  assert.deepEqual(titles(await songs().ilike('title', '%BRIGHTSIDE%')), ['Mr. Brightside']);
  assert.deepEqual(titles(await songs().ilike('artist', 'oasis')), ["Don't Look Back in Anger", 'Wonderwall']);
  const notOasis = titles(await songs().not('artist', 'eq', 'Oasis'));
  assert.equal(notOasis.length, 22);
  assert.ok(!notOasis.includes('Wonderwall'));
  assert.equal(titles(await songs().not('artist', 'is', null)).length, 24);
  assert.deepEqual(titles(await songs().textSearch('title', 'teen & spirit', { config: 'english' })), ['Smells Like Teen Spirit']);
  assert.deepEqual(titles(await songs().textSearch('title', 'nation army', { type: 'plain' })), ['Seven Nation Army']);
  assert.deepEqual(titles(await songs().or('title.ilike.creep,and(tempo.gt.155,tempo.lt.159)')), ['Creep', 'Everlong']);
  const practice = { id: randomUUID(), band_id: ROCKERS, scheduled_at: '2027-02-01T19:00:00Z', song_ids: ['a36f22b9-c44d-5b3c-87de-b3221d305c8a'] };
  assert.equal((await bob.supabase.from('practice_sessions').insert(practice)).error, null);
  const withSong = (op) => bob.supabase.from('practice_sessions').select('id')[op]('song_ids', ['a36f22b9-c44d-5b3c-87de-b3221d305c8a']).eq('id', practice.id);
  assert.equal((await withSong('contains')).data.length, 1);
  assert.equal((await withSong('overlaps')).data.length, 1);
  const deep = 'or('.repeat(40) + 'title.eq.x' + ')'.repeat(40);
  const refused = await songs().or(deep);
  assert.equal(refused.status, 400, 'a logic tree nested too deep is a clear 400');
  assert.equal(refused.error.code, 'PGRST100');
});

await test('rpc: only the owner hands a band on, through transfer_band_ownership', async () => {
  const alice = await signedIn('alice');
  const bob = await signedIn('bob');
  const refused = await bob.supabase.rpc('transfer_band_ownership', { band: ROCKERS, new_owner: bob.session.user.id });
  assert.equal(refused.status, 403, 'a member cannot take the band');
  const handed = await alice.supabase.rpc('transfer_band_ownership', { band: ROCKERS, new_owner: bob.session.user.id });
  assert.equal(handed.error, null);
  const roles = await bob.supabase.from('band_memberships').select('user_id,role').eq('band_id', ROCKERS).is('deleted_at', null);
  assert.equal(roles.data.find((m) => m.user_id === bob.session.user.id).role, 'owner');
  const back = await bob.supabase.rpc('transfer_band_ownership', { band: ROCKERS, new_owner: alice.session.user.id });
  assert.equal(back.error, null, 'and the new owner hands it back');
  const missing = await alice.supabase.rpc('no_such_function', {});
  assert.equal(missing.status, 404);
});

console.log(`test result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failed} failed (supabase-js conformance)`);
process.exit(failed ? 1 : 0);

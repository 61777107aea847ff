-- Objects the dev server itself needs (not part of the app schema): refresh tokens, the wake-up
-- signal for the change stream, and the visibility check that applies row-level security to
-- each change for each subscriber.

create schema if not exists rockon_devserver;

create table if not exists rockon_devserver.refresh_tokens (
  token text primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  revoked boolean not null default false,
  created_at timestamptz not null default now()
);

-- Wakes the change stream at commit (NOTIFY is delivered on commit), so changes are decoded
-- at once instead of on the next poll.
create or replace function rockon_devserver.notify_change() returns trigger
language plpgsql as $$
begin
  perform pg_notify('rockon_devserver_changes', '');
  return null;
end
$$;

-- Normalises a decoded change to the JSON the REST API returns for the same row, and says for
-- each subscriber's claims whether row-level security lets them see it: the SELECT policies of
-- the subscriber's role are evaluated against that version of the row (for a delete, the old
-- row: the row itself is gone).
create or replace function rockon_devserver.fan_out(
  tbl regclass, rec json, old json, claims jsonb[], committed text,
  out record_out jsonb, out old_out jsonb, out visible boolean[], out commit_timestamp text
)
language plpgsql as $$
declare
  subscriber jsonb;
  subscriber_role text;
  quals text;
  ok boolean;
  secured boolean;
  short_name text;
begin
  commit_timestamp := to_char(committed::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  if rec is not null then
    execute format('select to_jsonb(json_populate_record(null::%s, $1))', tbl) into record_out using rec;
  end if;
  if old is not null then
    execute format('select to_jsonb(json_populate_record(null::%s, $1))', tbl) into old_out using old;
  end if;
  select c.relrowsecurity, c.relname into secured, short_name from pg_class c where c.oid = tbl;
  visible := '{}';
  foreach subscriber in array claims loop
    subscriber_role := coalesce(subscriber ->> 'role', 'anon');
    if subscriber_role not in ('anon', 'authenticated', 'service_role') then
      ok := false;
    elsif not secured or subscriber_role = 'service_role' then
      ok := true;
    else
      select string_agg('(' || coalesce(p.qual, 'true') || ')', ' or ') into quals
      from pg_policies p
      where format('%I.%I', p.schemaname, p.tablename)::regclass = tbl
        and p.cmd in ('SELECT', 'ALL') and p.permissive = 'PERMISSIVE'
        and (subscriber_role = any (p.roles) or 'public' = any (p.roles));
      if quals is null then
        ok := false;
      else
        perform set_config('request.jwt.claims', subscriber::text, true);
        perform set_config('role', subscriber_role, true);
        execute format('select exists (select 1 from json_populate_record(null::%s, $1) as %I where %s)',
                       tbl, short_name, quals)
          into ok using coalesce(rec, old);
        perform set_config('role', 'none', true);
      end if;
    end if;
    visible := visible || ok;
  end loop;
  perform set_config('request.jwt.claims', '', true);
end
$$;

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

-- Normalises a decoded change to the JSON the REST API returns for the same row, and says for
-- each subscriber whether row-level security lets them see it: conditions[i] is the OR of the
-- SELECT policies of claims[i]'s role (read from pg_policies by the server), evaluated as that
-- role with those claims against this version of the row (for a delete the old row: the row
-- itself is gone).
drop function if exists rockon_devserver.fan_out(regclass, json, json, jsonb[], text);
create or replace function rockon_devserver.fan_out(
  tbl regclass, rec json, old json, claims jsonb[], conditions text[], committed text,
  out record_out jsonb, out old_out jsonb, out visible boolean[], out commit_timestamp text
)
language plpgsql as $$
declare
  i integer;
  ok boolean;
  short_name text;
  checked json := coalesce(rec, old);
begin
  commit_timestamp := to_char(committed::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  if rec is not null then
    execute format('select to_jsonb(json_populate_record(null::%s, $1))', tbl) into record_out using rec;
  end if;
  if old is not null then
    execute format('select to_jsonb(json_populate_record(null::%s, $1))', tbl) into old_out using old;
  end if;
  select c.relname into short_name from pg_class c where c.oid = tbl;
  visible := '{}';
  for i in 1 .. coalesce(array_length(claims, 1), 0) loop
    if conditions[i] = 'true' then
      ok := true;
    elsif conditions[i] = 'false' then
      ok := false;
    else
      perform set_config('request.jwt.claims', claims[i]::text, true);
      perform set_config('role', coalesce(claims[i] ->> 'role', 'anon'), true);
      execute format('select exists (select 1 from json_populate_record(null::%s, $1) as %I where %s)',
                     tbl, short_name, conditions[i])
        into ok using checked;
      perform set_config('role', 'none', true);
    end if;
    visible := visible || ok;
  end loop;
  perform set_config('request.jwt.claims', '', true);
end
$$;

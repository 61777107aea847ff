-- Broadcast from Database: every change of a synced row is sent to its band's private Realtime
-- topic `band:<band id>`, and every membership change to the member's `user:<user id>` and to
-- the band's topic, through realtime.broadcast_changes (the payload is compatible with Postgres
-- Changes: {schema, table, operation, record, old_record}). Realtime reads the messages from
-- the WAL and sends them to the topic's subscribers, admitted once at join by the policies on
-- realtime.messages below; no per-change, per-subscriber row-level security check runs.
-- Apply after 0001-0003; valid unchanged on a hosted Supabase project.
--
-- Another app with other tables adds one trigger per table, naming the topic's prefix and the
-- scope column:
--   create trigger broadcast_change after insert or update or delete on public.guests
--     for each row execute function public.broadcast_row_change('wedding', 'wedding_id');
-- and a select policy on realtime.messages admitting the scope's members to '<prefix>:<id>'.

-- Security definer: the message is written as the function's owner, so a write by one member
-- reaches the topics of others (a membership added by an admin reaches the new member's own
-- topic, which the admin may not send on). Rows never move between bands (0003), so the old
-- and the new row name the same topic.
create function public.broadcast_row_change() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  scope text := coalesce(to_jsonb(new), to_jsonb(old)) ->> tg_argv[1];
begin
  if scope is not null then
    perform realtime.broadcast_changes(
      tg_argv[0] || ':' || scope, tg_op, tg_op, tg_table_name, tg_table_schema, new, old);
  end if;
  return null;
end
$$;

-- A membership change goes to the member (who learns of a band joined or left) and to the
-- band (whose members see who joined or left).
create function public.broadcast_membership_change() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  membership jsonb := coalesce(to_jsonb(new), to_jsonb(old));
begin
  perform realtime.broadcast_changes(
    'user:' || (membership ->> 'user_id'), tg_op, tg_op, tg_table_name, tg_table_schema, new, old);
  perform realtime.broadcast_changes(
    'band:' || (membership ->> 'band_id'), tg_op, tg_op, tg_table_name, tg_table_schema, new, old);
  return null;
end
$$;

revoke execute on function public.broadcast_row_change(), public.broadcast_membership_change()
  from public, anon, authenticated;

create trigger broadcast_change after insert or update or delete on public.songs
  for each row execute function public.broadcast_row_change('band', 'band_id');
create trigger broadcast_change after insert or update or delete on public.shows
  for each row execute function public.broadcast_row_change('band', 'band_id');
create trigger broadcast_change after insert or update or delete on public.setlists
  for each row execute function public.broadcast_row_change('band', 'band_id');
create trigger broadcast_change after insert or update or delete on public.practice_sessions
  for each row execute function public.broadcast_row_change('band', 'band_id');
create trigger broadcast_change after insert or update or delete on public.band_memberships
  for each row execute function public.broadcast_membership_change();

-- A user may join their own `user:<id>` topic, and no one else's. (Band members are admitted
-- to `band:<id>` by 0002's policy, which also covers presence.)
create policy "users receive their own user channel" on realtime.messages
  for select to authenticated
  using (realtime.topic() = 'user:' || auth.uid()::text);

-- Hardened row-level security: members can no longer promote themselves, move a membership to
-- another band, undo their own removal or hard-delete synced rows. Apply after 0001 and 0002;
-- valid unchanged on a hosted Supabase project.
--
-- Who may do what, per band:
--   owner   changes roles (member <-> admin), adds and removes anyone but himself, restores
--           removed members, renames and tombstones the band, hands ownership to another
--           member with public.transfer_band_ownership(band, new_owner);
--   admin   adds members (role 'member'), removes and restores members and admins (never the
--           owner), renames the band;
--   member  reads the band, creates and edits its rows, tombstones them, leaves the band
--           (tombstones his own membership) and nothing else on his membership;
--   nobody  hard-deletes a synced row or a band through the API: a hard delete leaves offline
--           replicas unaware, and hosted Realtime sends deletes past row security. Rows are
--           tombstoned (deleted_at); the service role may still purge.
--
-- Column rules run in triggers rather than policies because a policy cannot see the old row.
-- They apply to the API roles only (anon, authenticated): the service role, the migration owner
-- and security definer functions such as transfer_band_ownership run as other roles.

create function public.is_band_owner(band uuid) returns boolean
language sql stable security definer set search_path = public as $$
  select exists (
    select 1 from public.band_memberships m
    where m.band_id = band and m.user_id = auth.uid() and m.deleted_at is null
      and m.role = 'owner'
  )
$$;

create function public.guard_membership() returns trigger
language plpgsql set search_path = public as $$
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  if new.band_id is distinct from old.band_id or new.user_id is distinct from old.user_id then
    raise exception 'a membership''s band and user never change'
      using errcode = '42501';
  end if;
  if new.role is distinct from old.role then
    if old.role = 'owner' or new.role = 'owner' then
      raise exception 'ownership moves only through transfer_band_ownership'
        using errcode = '42501';
    end if;
    if not public.is_band_owner(old.band_id) then
      raise exception 'only the band''s owner changes roles' using errcode = '42501';
    end if;
  end if;
  if old.deleted_at is null and new.deleted_at is not null then
    -- A removal: the member himself (leaving), or an admin or owner; never the owner's row,
    -- which would leave the band without one.
    if old.role = 'owner' then
      raise exception 'the owner cannot be removed; transfer ownership first'
        using errcode = '42501';
    end if;
    if old.user_id is distinct from auth.uid() and not public.is_band_admin(old.band_id) then
      raise exception 'only admins remove members' using errcode = '42501';
    end if;
  elsif old.deleted_at is not null and new.deleted_at is null then
    if not public.is_band_admin(old.band_id) then
      raise exception 'only an admin or the owner restores a removed member'
        using errcode = '42501';
    end if;
  elsif old.deleted_at is not null and not public.is_band_admin(old.band_id) then
    -- A removed member's row is frozen until an admin restores it.
    raise exception 'a removed membership changes only by being restored'
      using errcode = '42501';
  end if;
  return new;
end
$$;

create trigger guard before update on public.band_memberships
  for each row execute function public.guard_membership();

create function public.guard_band() returns trigger
language plpgsql set search_path = public as $$
begin
  if current_user in ('anon', 'authenticated')
     and new.deleted_at is distinct from old.deleted_at
     and not public.is_band_owner(old.id) then
    raise exception 'only the band''s owner deletes or restores it' using errcode = '42501';
  end if;
  return new;
end
$$;

create trigger guard before update on public.bands
  for each row execute function public.guard_band();

-- A synced row stays in its band: moving it would make it vanish from the old band's replicas
-- without a tombstone, and let a member of two bands carry rows between them.
create function public.keep_band() returns trigger
language plpgsql set search_path = public as $$
begin
  if current_user in ('anon', 'authenticated') and new.band_id is distinct from old.band_id then
    raise exception 'a row''s band never changes' using errcode = '42501';
  end if;
  return new;
end
$$;

create trigger keep_band before update on public.songs
  for each row execute function public.keep_band();
create trigger keep_band before update on public.shows
  for each row execute function public.keep_band();
create trigger keep_band before update on public.setlists
  for each row execute function public.keep_band();
create trigger keep_band before update on public.practice_sessions
  for each row execute function public.keep_band();

-- Ownership moves only here: the caller must own the band and the new owner must be an active
-- member; the old owner stays on as an admin.
create function public.transfer_band_ownership(band uuid, new_owner uuid) returns void
language plpgsql security definer set search_path = public as $$
begin
  if not public.is_band_owner(band) then
    raise exception 'only the band''s owner transfers it' using errcode = '42501';
  end if;
  if not exists (
    select 1 from public.band_memberships m
    where m.band_id = band and m.user_id = new_owner and m.deleted_at is null
  ) then
    raise exception 'the new owner must be a member of the band' using errcode = 'P0002';
  end if;
  update public.band_memberships set role = 'admin'
    where band_id = band and user_id = auth.uid();
  update public.band_memberships set role = 'owner'
    where band_id = band and user_id = new_owner;
end
$$;

revoke execute on function public.transfer_band_ownership(uuid, uuid) from public, anon;
grant execute on function public.transfer_band_ownership(uuid, uuid) to authenticated;

drop policy "owners delete their bands" on public.bands;

drop policy "admins add members" on public.band_memberships;
create policy "owners add admins and members, admins add members" on public.band_memberships
  for insert to authenticated with check (
    (role = 'member' and public.is_band_admin(band_id))
    or (role = 'admin' and public.is_band_owner(band_id))
  );

drop policy "admins change memberships, members leave" on public.band_memberships;
create policy "admins and owners manage memberships, members leave" on public.band_memberships
  for update to authenticated
  using (public.is_band_admin(band_id) or user_id = auth.uid())
  with check (public.is_band_admin(band_id) or user_id = auth.uid());

drop policy "admins remove members, members leave" on public.band_memberships;

drop policy "members read and write band songs" on public.songs;
drop policy "members read and write band shows" on public.shows;
drop policy "members read and write band setlists" on public.setlists;
drop policy "members read and write band practices" on public.practice_sessions;

create policy "members read band songs" on public.songs
  for select to authenticated using (public.is_band_member(band_id));
create policy "members add band songs" on public.songs
  for insert to authenticated with check (public.is_band_member(band_id));
create policy "members edit and tombstone band songs" on public.songs
  for update to authenticated
  using (public.is_band_member(band_id)) with check (public.is_band_member(band_id));

create policy "members read band shows" on public.shows
  for select to authenticated using (public.is_band_member(band_id));
create policy "members add band shows" on public.shows
  for insert to authenticated with check (public.is_band_member(band_id));
create policy "members edit and tombstone band shows" on public.shows
  for update to authenticated
  using (public.is_band_member(band_id)) with check (public.is_band_member(band_id));

create policy "members read band setlists" on public.setlists
  for select to authenticated using (public.is_band_member(band_id));
create policy "members add band setlists" on public.setlists
  for insert to authenticated with check (public.is_band_member(band_id));
create policy "members edit and tombstone band setlists" on public.setlists
  for update to authenticated
  using (public.is_band_member(band_id)) with check (public.is_band_member(band_id));

create policy "members read band practices" on public.practice_sessions
  for select to authenticated using (public.is_band_member(band_id));
create policy "members add band practices" on public.practice_sessions
  for insert to authenticated with check (public.is_band_member(band_id));
create policy "members edit and tombstone band practices" on public.practice_sessions
  for update to authenticated
  using (public.is_band_member(band_id)) with check (public.is_band_member(band_id));

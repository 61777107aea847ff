-- RockOn: bands with members, and the songs, setlists, shows and practice sessions they share.
-- Valid unchanged on a hosted Supabase project (which provides auth.users, auth.uid(), the
-- anon/authenticated roles and the supabase_realtime publication).
--
-- Every synced row carries a client-generated uuid id, its band (the scope column band_id), a
-- version bumped by the server on every update, who created and last modified it, server-clock
-- timestamps, and a deleted_at tombstone so deletes reach clients that were offline.

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  display_name text not null,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.bands (
  id uuid primary key,
  name text not null check (length(name) between 1 and 200),
  version integer not null default 1,
  created_by uuid references auth.users (id),
  last_modified_by uuid references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

create table public.band_memberships (
  id uuid primary key default gen_random_uuid(),
  band_id uuid not null references public.bands (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  version integer not null default 1,
  created_by uuid references auth.users (id),
  last_modified_by uuid references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  unique (band_id, user_id)
);

create table public.songs (
  id uuid primary key,
  band_id uuid not null references public.bands (id) on delete cascade,
  title text not null,
  artist text,
  key text,
  tempo integer check (tempo is null or tempo between 1 and 400),
  duration_seconds integer check (duration_seconds is null or duration_seconds >= 0),
  notes text,
  version integer not null default 1,
  created_by uuid references auth.users (id),
  last_modified_by uuid references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

create table public.shows (
  id uuid primary key,
  band_id uuid not null references public.bands (id) on delete cascade,
  name text not null,
  venue text,
  starts_at timestamptz,
  notes text,
  version integer not null default 1,
  created_by uuid references auth.users (id),
  last_modified_by uuid references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

create table public.setlists (
  id uuid primary key,
  band_id uuid not null references public.bands (id) on delete cascade,
  name text not null,
  show_id uuid references public.shows (id) on delete set null,
  -- Ordered entries such as {"songId": "…", "notes": "…"} or {"break": 15}.
  items jsonb not null default '[]' check (jsonb_typeof(items) = 'array'),
  version integer not null default 1,
  created_by uuid references auth.users (id),
  last_modified_by uuid references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

create table public.practice_sessions (
  id uuid primary key,
  band_id uuid not null references public.bands (id) on delete cascade,
  scheduled_at timestamptz not null,
  duration_minutes integer check (duration_minutes is null or duration_minutes > 0),
  location text,
  notes text,
  song_ids uuid[] not null default '{}',
  version integer not null default 1,
  created_by uuid references auth.users (id),
  last_modified_by uuid references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

create index songs_band_updated on public.songs (band_id, updated_at, id);
create index shows_band_updated on public.shows (band_id, updated_at, id);
create index setlists_band_updated on public.setlists (band_id, updated_at, id);
create index practice_sessions_band_updated on public.practice_sessions (band_id, updated_at, id);
create index band_memberships_user on public.band_memberships (user_id, updated_at, id);
create index band_memberships_band on public.band_memberships (band_id, updated_at, id);

-- The server owns versions, timestamps and authorship: clients cannot forge them.
create function public.stamp_row() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    new.version := 1;
    new.created_at := now();
    new.updated_at := now();
    new.created_by := coalesce(auth.uid(), new.created_by);
    new.last_modified_by := coalesce(auth.uid(), new.created_by);
  else
    new.id := old.id;
    new.version := old.version + 1;
    new.created_at := old.created_at;
    new.updated_at := greatest(now(), old.updated_at);
    new.created_by := old.created_by;
    new.last_modified_by := coalesce(auth.uid(), new.last_modified_by);
    -- Tombstones carry the server's time of the first delete, whatever the device sent.
    if new.deleted_at is not null then
      new.deleted_at := coalesce(old.deleted_at, now());
    end if;
  end if;
  return new;
end
$$;

create function public.stamp_profile() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    new.version := 1;
    new.created_at := now();
  else
    new.version := old.version + 1;
    new.created_at := old.created_at;
  end if;
  new.updated_at := now();
  return new;
end
$$;

create trigger stamp before insert or update on public.profiles
  for each row execute function public.stamp_profile();
create trigger stamp before insert or update on public.bands
  for each row execute function public.stamp_row();
create trigger stamp before insert or update on public.band_memberships
  for each row execute function public.stamp_row();
create trigger stamp before insert or update on public.songs
  for each row execute function public.stamp_row();
create trigger stamp before insert or update on public.shows
  for each row execute function public.stamp_row();
create trigger stamp before insert or update on public.setlists
  for each row execute function public.stamp_row();
create trigger stamp before insert or update on public.practice_sessions
  for each row execute function public.stamp_row();

-- Membership checks run as the table owner so policies on band_memberships do not recurse.
create function public.is_band_member(band uuid) returns boolean
language sql stable security definer set search_path = public as $$
  select exists (
    select 1 from public.band_memberships m
    where m.band_id = band and m.user_id = auth.uid() and m.deleted_at is null
  )
$$;

create function public.is_band_admin(band uuid) returns boolean
language sql stable security definer set search_path = public as $$
  select exists (
    select 1 from public.band_memberships m
    where m.band_id = band and m.user_id = auth.uid() and m.deleted_at is null
      and m.role in ('owner', 'admin')
  )
$$;

-- Whoever creates a band owns it.
create function public.add_band_owner() returns trigger
language plpgsql security definer set search_path = public as $$
begin
  if new.created_by is not null then
    insert into public.band_memberships (band_id, user_id, role, created_by)
    values (new.id, new.created_by, 'owner', new.created_by)
    on conflict (band_id, user_id) do nothing;
  end if;
  return new;
end
$$;

create trigger add_owner after insert on public.bands
  for each row execute function public.add_band_owner();

alter table public.profiles enable row level security;
alter table public.bands enable row level security;
alter table public.band_memberships enable row level security;
alter table public.songs enable row level security;
alter table public.shows enable row level security;
alter table public.setlists enable row level security;
alter table public.practice_sessions enable row level security;

create policy "profiles are readable by signed-in users" on public.profiles
  for select to authenticated using (true);
create policy "users write their own profile" on public.profiles
  for all to authenticated using (id = auth.uid()) with check (id = auth.uid());

create policy "members read their bands" on public.bands
  for select to authenticated using (public.is_band_member(id) or created_by = auth.uid());
create policy "anyone signed in creates a band" on public.bands
  for insert to authenticated with check (created_by = auth.uid() or created_by is null);
create policy "admins change their bands" on public.bands
  for update to authenticated using (public.is_band_admin(id)) with check (public.is_band_admin(id));
create policy "owners delete their bands" on public.bands
  for delete to authenticated using (public.is_band_admin(id));

create policy "members see the band's memberships and their own" on public.band_memberships
  for select to authenticated using (public.is_band_member(band_id) or user_id = auth.uid());
create policy "admins add members" on public.band_memberships
  for insert to authenticated with check (public.is_band_admin(band_id));
create policy "admins change memberships, members leave" on public.band_memberships
  for update to authenticated
  using (public.is_band_admin(band_id) or user_id = auth.uid())
  with check (public.is_band_admin(band_id) or user_id = auth.uid());
create policy "admins remove members, members leave" on public.band_memberships
  for delete to authenticated using (public.is_band_admin(band_id) or user_id = auth.uid());

create policy "members read and write band songs" on public.songs
  for all to authenticated using (public.is_band_member(band_id)) with check (public.is_band_member(band_id));
create policy "members read and write band shows" on public.shows
  for all to authenticated using (public.is_band_member(band_id)) with check (public.is_band_member(band_id));
create policy "members read and write band setlists" on public.setlists
  for all to authenticated using (public.is_band_member(band_id)) with check (public.is_band_member(band_id));
create policy "members read and write band practices" on public.practice_sessions
  for all to authenticated using (public.is_band_member(band_id)) with check (public.is_band_member(band_id));

-- Deletes must carry the whole old row so filtered subscriptions see them.
alter table public.profiles replica identity full;
alter table public.bands replica identity full;
alter table public.band_memberships replica identity full;
alter table public.songs replica identity full;
alter table public.shows replica identity full;
alter table public.setlists replica identity full;
alter table public.practice_sessions replica identity full;

alter publication supabase_realtime add table
  public.profiles, public.bands, public.band_memberships, public.songs, public.shows,
  public.setlists, public.practice_sessions;

-- Band channels (`band:<band id>`) are private Realtime channels: only the band's members may
-- join them, so presence (who is online, what they view) never reaches anyone else.
-- Realtime evaluates these policies with realtime.topic() set to the channel's topic.

create policy "band members receive their band channel" on realtime.messages
  for select to authenticated
  using (
    case when realtime.topic() ~ '^band:[0-9a-f-]{36}$'
      then public.is_band_member(substring(realtime.topic() from 6)::uuid)
      else false end
  );

create policy "band members send on their band channel" on realtime.messages
  for insert to authenticated
  with check (
    case when realtime.topic() ~ '^band:[0-9a-f-]{36}$'
      then public.is_band_member(substring(realtime.topic() from 6)::uuid)
      else false end
  );

-- Demo data: alice, bob and carol (password "rockon"), two bands, a few dozen songs, setlists,
-- shows and practice sessions. Runs as the database owner, so authorship is given explicitly.

insert into auth.users (id, email, encrypted_password, raw_user_meta_data) values
  ('e1be9b0b-e57b-5640-8ce5-b95c26077d0d', 'alice@rockon.test', crypt('rockon', gen_salt('bf', 6)), '{"display_name": "Alice"}'),
  ('a992f178-aa00-5f5d-bf95-e7d219c43e16', 'bob@rockon.test', crypt('rockon', gen_salt('bf', 6)), '{"display_name": "Bob"}'),
  ('6401d1c2-93ce-522f-b581-7e35232ea80a', 'carol@rockon.test', crypt('rockon', gen_salt('bf', 6)), '{"display_name": "Carol"}');

insert into public.profiles (id, display_name) values
  ('e1be9b0b-e57b-5640-8ce5-b95c26077d0d', 'Alice'),
  ('a992f178-aa00-5f5d-bf95-e7d219c43e16', 'Bob'),
  ('6401d1c2-93ce-522f-b581-7e35232ea80a', 'Carol');

insert into public.bands (id, name, created_by) values
  ('641657c9-9f8e-5c07-b44e-4ececddac108', 'The Rockers', 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Carol''s Trio', '6401d1c2-93ce-522f-b581-7e35232ea80a');
-- (the add_owner trigger made each creator the owner)
insert into public.band_memberships (band_id, user_id, role, created_by) values
  ('641657c9-9f8e-5c07-b44e-4ececddac108', 'a992f178-aa00-5f5d-bf95-e7d219c43e16', 'member', 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d');

insert into public.songs (id, band_id, title, artist, key, tempo, duration_seconds, created_by) values
  ('a36f22b9-c44d-5b3c-87de-b3221d305c8a', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Wonderwall', 'Oasis', 'F#m', 87, 180, 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('0c657d15-fed3-56cf-b3c5-00be5ea1e1d6', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Mr. Brightside', 'The Killers', 'Db', 148, 187, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('fd2dbd75-59f7-57ed-8046-a4fc86b5db95', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Seven Nation Army', 'The White Stripes', 'Em', 124, 194, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('8bc98fcf-c7ef-5822-b821-510127e1eb48', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Smells Like Teen Spirit', 'Nirvana', 'Fm', 117, 201, 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('23d0486d-ff07-5f79-8f7d-f8c8fc001ac0', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Back in Black', 'AC/DC', 'E', 94, 208, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('a370ae8d-28f5-5488-b31a-fbc741de9afc', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Sweet Child o'' Mine', 'Guns N'' Roses', 'D', 125, 215, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('275c1c4c-9198-59e6-b0da-6881f529736a', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Take Me Out', 'Franz Ferdinand', 'Em', 105, 222, 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('8117828d-e972-592c-afbb-209351630c9c', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Dreams', 'Fleetwood Mac', 'F', 120, 229, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('71e02d2e-000d-5ae4-9192-8a5bf9b88815', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Come Together', 'The Beatles', 'Dm', 82, 236, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('9edb7bab-b9d1-5aad-8bae-d03a4ff733e5', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Hey Ya!', 'OutKast', 'G', 159, 243, 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('7cc2c51a-441d-56e6-a7c3-4f0feb767cab', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Zombie', 'The Cranberries', 'Em', 84, 250, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('a02da165-a044-5893-90a4-fc3a46f4339d', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Creep', 'Radiohead', 'G', 92, 257, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('7a8761b6-8d9f-5fb3-a606-d28c9b5c6d5a', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Losing My Religion', 'R.E.M.', 'Am', 125, 264, 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('a52050cd-22b5-50ac-b83d-2190d49940ca', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Under Pressure', 'Queen & David Bowie', 'D', 114, 271, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('d6aa6c91-9513-50a7-aa62-a6bb1a789122', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Valerie', 'Amy Winehouse', 'Eb', 107, 278, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('181227e0-5e7f-5c94-a678-816653b1f476', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Use Somebody', 'Kings of Leon', 'C', 137, 285, 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('8e633137-dae5-54ec-9532-89d11213c219', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Don''t Look Back in Anger', 'Oasis', 'C', 83, 292, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('2c0aafb0-4cb9-5609-bc44-ccf21466c71f', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Song 2', 'Blur', 'E', 130, 299, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('97a42ffa-a28e-5a9b-8c35-51fd06292d60', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Last Nite', 'The Strokes', 'C', 104, 306, 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('7202b6f6-af30-5ead-909c-fb0c664db259', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Crazy Little Thing Called Love', 'Queen', 'D', 154, 313, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('554ea50a-bc40-5d54-a3c9-f97bbdd43fe3', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Sex on Fire', 'Kings of Leon', 'E', 153, 320, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('cd477cd4-82be-5d91-bb6b-756f4d1576bc', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Black Hole Sun', 'Soundgarden', 'G', 105, 327, 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('3f504657-d00e-582d-ab59-2fecac12a3e7', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Basket Case', 'Green Day', 'Eb', 85, 334, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('a09162e5-acee-5c8f-8d46-c2472227fa8c', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Everlong', 'Foo Fighters', 'D', 158, 341, 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('294dd197-bf17-5479-96af-9b68b2823fdd', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Autumn Leaves', 'Standard', 'Gm', 120, 200, '6401d1c2-93ce-522f-b581-7e35232ea80a'),
  ('bcf7b73b-e188-58d4-8207-ac23007a35eb', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Fly Me to the Moon', 'Standard', 'C', 119, 209, '6401d1c2-93ce-522f-b581-7e35232ea80a'),
  ('17ceb851-bffa-5275-98d5-b833bf793a8d', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Blue Bossa', 'Kenny Dorham', 'Cm', 150, 218, '6401d1c2-93ce-522f-b581-7e35232ea80a'),
  ('742ae436-45d7-5562-933c-b26fbb82c44e', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Take Five', 'Dave Brubeck', 'Ebm', 174, 227, '6401d1c2-93ce-522f-b581-7e35232ea80a'),
  ('6e2a120a-ac3a-5d37-8ede-bcfcab6cc50c', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'So What', 'Miles Davis', 'Dm', 136, 236, '6401d1c2-93ce-522f-b581-7e35232ea80a'),
  ('c5b4ce3e-63c2-5d19-a2f9-962dc694cced', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Misty', 'Erroll Garner', 'Eb', 66, 245, '6401d1c2-93ce-522f-b581-7e35232ea80a'),
  ('56808704-cdfc-5fe7-9c8b-ad7f3ab0c4a7', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'All the Things You Are', 'Standard', 'Ab', 132, 254, '6401d1c2-93ce-522f-b581-7e35232ea80a'),
  ('909290a9-cc9d-51cf-abc5-5d7226b65901', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Summertime', 'Gershwin', 'Am', 90, 263, '6401d1c2-93ce-522f-b581-7e35232ea80a');

insert into public.shows (id, band_id, name, venue, starts_at, created_by) values
  ('4a993f23-57d0-5d52-8074-87c92af4cdce', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Friday at The Crown', 'The Crown, Leeds', '2026-12-04 20:30+00', 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('f7ba0dd2-b208-5323-ba73-4b9a2d576c73', '641657c9-9f8e-5c07-b44e-4ececddac108', 'New Year''s Eve party', 'Corn Exchange', '2026-12-31 21:00+00', 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('202d4866-c12b-5b3d-9aa5-758c52596ace', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Spring festival', 'Hyde Park bandstand', '2027-04-18 15:00+00', 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('9f8c5361-643a-52f7-9ae3-22917040a7e3', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Jazz brunch', 'Café Bleu', '2026-12-06 11:00+00', '6401d1c2-93ce-522f-b581-7e35232ea80a');

insert into public.setlists (id, band_id, name, show_id, items, created_by) values
  ('fe8cc102-fb3e-5e4d-bbc0-1c6f950801ec', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Friday set', '4a993f23-57d0-5d52-8074-87c92af4cdce', '[{"songId": "a36f22b9-c44d-5b3c-87de-b3221d305c8a"}, {"songId": "0c657d15-fed3-56cf-b3c5-00be5ea1e1d6"}, {"songId": "fd2dbd75-59f7-57ed-8046-a4fc86b5db95"}, {"songId": "8bc98fcf-c7ef-5822-b821-510127e1eb48"}, {"songId": "23d0486d-ff07-5f79-8f7d-f8c8fc001ac0"}, {"songId": "a370ae8d-28f5-5488-b31a-fbc741de9afc"}, {"songId": "275c1c4c-9198-59e6-b0da-6881f529736a"}, {"songId": "8117828d-e972-592c-afbb-209351630c9c"}, {"songId": "71e02d2e-000d-5ae4-9192-8a5bf9b88815"}, {"songId": "9edb7bab-b9d1-5aad-8bae-d03a4ff733e5"}]', 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('75e3ad9f-e409-5ebe-9a95-791f33c16772', '641657c9-9f8e-5c07-b44e-4ececddac108', 'NYE set', 'f7ba0dd2-b208-5323-ba73-4b9a2d576c73', '[{"songId": "7cc2c51a-441d-56e6-a7c3-4f0feb767cab"}, {"songId": "a02da165-a044-5893-90a4-fc3a46f4339d"}, {"songId": "7a8761b6-8d9f-5fb3-a606-d28c9b5c6d5a"}, {"songId": "a52050cd-22b5-50ac-b83d-2190d49940ca"}, {"songId": "d6aa6c91-9513-50a7-aa62-a6bb1a789122"}, {"songId": "181227e0-5e7f-5c94-a678-816653b1f476"}, {"songId": "8e633137-dae5-54ec-9532-89d11213c219"}, {"songId": "2c0aafb0-4cb9-5609-bc44-ccf21466c71f"}, {"songId": "97a42ffa-a28e-5a9b-8c35-51fd06292d60"}, {"songId": "7202b6f6-af30-5ead-909c-fb0c664db259"}, {"songId": "554ea50a-bc40-5d54-a3c9-f97bbdd43fe3"}, {"songId": "cd477cd4-82be-5d91-bb6b-756f4d1576bc"}]', 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('99fffee1-e880-5faf-84bc-48fa7f8ed6c8', '641657c9-9f8e-5c07-b44e-4ececddac108', 'Acoustic set', null, '[{"songId": "a36f22b9-c44d-5b3c-87de-b3221d305c8a"}, {"songId": "a02da165-a044-5893-90a4-fc3a46f4339d"}, {"songId": "d6aa6c91-9513-50a7-aa62-a6bb1a789122"}, {"songId": "8e633137-dae5-54ec-9532-89d11213c219"}]', 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('7b230b11-b1e8-5238-bafa-b0143913a370', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', 'Brunch set', '9f8c5361-643a-52f7-9ae3-22917040a7e3', '[{"songId": "294dd197-bf17-5479-96af-9b68b2823fdd"}, {"songId": "bcf7b73b-e188-58d4-8207-ac23007a35eb"}, {"songId": "17ceb851-bffa-5275-98d5-b833bf793a8d"}, {"songId": "c5b4ce3e-63c2-5d19-a2f9-962dc694cced"}, {"songId": "909290a9-cc9d-51cf-abc5-5d7226b65901"}]', '6401d1c2-93ce-522f-b581-7e35232ea80a');

insert into public.practice_sessions (id, band_id, scheduled_at, duration_minutes, location, song_ids, created_by) values
  ('b51f5260-fcd0-5443-b135-00c83842bf48', '641657c9-9f8e-5c07-b44e-4ececddac108', '2026-11-26 19:00+00', 120, 'Bob''s garage', '{a36f22b9-c44d-5b3c-87de-b3221d305c8a,0c657d15-fed3-56cf-b3c5-00be5ea1e1d6,fd2dbd75-59f7-57ed-8046-a4fc86b5db95}', 'a992f178-aa00-5f5d-bf95-e7d219c43e16'),
  ('7e1b00cb-27cd-5591-84a7-350a59bec3b9', '641657c9-9f8e-5c07-b44e-4ececddac108', '2026-12-02 19:00+00', 150, 'Rehearsal room 3', '{8bc98fcf-c7ef-5822-b821-510127e1eb48,23d0486d-ff07-5f79-8f7d-f8c8fc001ac0,a370ae8d-28f5-5488-b31a-fbc741de9afc,275c1c4c-9198-59e6-b0da-6881f529736a}', 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('d017e3be-d310-56de-a175-20e5410ff3eb', '641657c9-9f8e-5c07-b44e-4ececddac108', '2026-12-29 18:00+00', 180, 'Rehearsal room 3', '{7cc2c51a-441d-56e6-a7c3-4f0feb767cab,a02da165-a044-5893-90a4-fc3a46f4339d,7a8761b6-8d9f-5fb3-a606-d28c9b5c6d5a}', 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d'),
  ('b33cee8d-8c1e-5cd0-ba0c-48d051f9a1cc', '5a224131-abbb-51ab-b2b1-3f08f02e2c99', '2026-12-03 10:00+00', 90, 'Carol''s flat', '{294dd197-bf17-5479-96af-9b68b2823fdd,bcf7b73b-e188-58d4-8207-ac23007a35eb}', '6401d1c2-93ce-522f-b581-7e35232ea80a');

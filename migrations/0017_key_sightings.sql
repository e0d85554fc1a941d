-- When the console first saw each signing key (by its kid): the overview shows the keys'
-- ages from it. Keys carry no date of their own; a key in use before the first visit to
-- the overview counts from that visit.
CREATE TABLE key_sightings (
  kid        TEXT PRIMARY KEY,
  kind       TEXT NOT NULL,                   -- 'access' (Ed25519) or 'id' (RS256)
  first_seen INTEGER NOT NULL
);

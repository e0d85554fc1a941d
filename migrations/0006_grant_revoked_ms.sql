-- When a grant was revoked, in milliseconds. A code is refused when a grant of the same
-- person and app was withdrawn after the code was issued; seconds lost the order of
-- events inside one second (a replay's revocation refused a new sign-in of that second).
-- Rows revoked before this column existed count as revoked at the end of their second.
ALTER TABLE grants ADD COLUMN revoked_ms INTEGER;

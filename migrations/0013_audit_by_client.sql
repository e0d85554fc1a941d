-- The console's audit log filters by app as well as by person and time.
CREATE INDEX audit_events_by_client ON audit_events (client_id, at);

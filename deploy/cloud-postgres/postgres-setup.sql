-- The database and role the cloud replicas share (run once as the postgres superuser:
--   sudo -u postgres psql -f postgres-setup.sql). Choose your own password; it goes into
-- /etc/ironledger/database-url as postgres://ironledger:<password>@db-host:5432/ironledger
CREATE ROLE ironledger LOGIN PASSWORD 'change-me';
CREATE DATABASE ironledger OWNER ironledger;
-- The schema is created and upgraded by `ironledger-cloud migrate` (as the owner), never by hand.

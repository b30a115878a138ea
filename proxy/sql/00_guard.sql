-- eventsvc_proxy install script, assembled by proxy/Makefile (docs/scale-out.md).
-- The proxy database has the same api schema as an eventsvc server, built from the
-- shards' catalog by eventsvc.sync_api(); every call is routed to the shard of the
-- caller's tenant by PL/Proxy. Parts 00, 70 and 79 are eventsvc's own.

\echo Use "CREATE EXTENSION eventsvc_proxy CASCADE" to load this file. \quit

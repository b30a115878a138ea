-- pgTAP: what a buyer sees of other buyers. A tenant user is a buyer: api.holds (and
-- the holds embedded in events and sections), api.waitlist_entries, api.hold_refunds
-- and api.postponement_decisions show it its own rows only, whether it is named by a
-- trusted client's app.current_user_id or by a token's sub (request.jwt.claims); with
-- neither it is nobody's holder and sees none. The promoter (a tenant admin) and a
-- service see every buyer's rows; the waitlist's counts per section name nobody.
-- The views are security barriers. Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(28);

SELECT eventsvc.create_tenant('Tap Privacy', 'tap-privacy', '7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c', '7c7c0000-0000-4000-8000-00000000000a', 'Privacy Hall', 500);
SET eventsvc.import_mode = on;   -- fixtures on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status, starts_at, ends_at) VALUES
    ('7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c', '7c7c0000-0000-4000-8000-0000000000e1',
     '7c7c0000-0000-4000-8000-00000000000a', 'Privacy Night', 'privacy-night', 'ON_SALE',
     eventsvc.now() + interval '20 days', eventsvc.now() + interval '20 days 3 hours'),
    ('7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c', '7c7c0000-0000-4000-8000-0000000000e2',
     '7c7c0000-0000-4000-8000-00000000000a', 'Privacy Matinee', 'privacy-matinee', 'ON_SALE',
     eventsvc.now() + interval '21 days', eventsvc.now() + interval '21 days 3 hours');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c', '7c7c0000-0000-4000-8000-0000000000c1',
     '7c7c0000-0000-4000-8000-0000000000e1', 'Box', 2, 2),
    ('7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c', '7c7c0000-0000-4000-8000-0000000000c2',
     '7c7c0000-0000-4000-8000-0000000000e1', 'Stalls', 10, 10),
    ('7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c', '7c7c0000-0000-4000-8000-0000000000c3',
     '7c7c0000-0000-4000-8000-0000000000e2', 'Floor', 10, 10);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price) VALUES
    ('7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c', '7c7c0000-0000-4000-8000-0000000000f1',
     '7c7c0000-0000-4000-8000-0000000000e1', 'Standard', 2500),
    ('7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c', '7c7c0000-0000-4000-8000-0000000000f3',
     '7c7c0000-0000-4000-8000-0000000000e2', 'Matinee', 1500);
SET app.current_tenant_id = '7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c';

CREATE FUNCTION pg_temp.as_buyer(who text) RETURNS void LANGUAGE sql AS $$
    SELECT set_config('app.current_user_id', who, false)
$$;
-- what the caller reads: the distinct holders of each view, in order
CREATE FUNCTION pg_temp.holders(view text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE format('SELECT coalesce(string_agg(DISTINCT holder_id, '','' ORDER BY holder_id), '''') FROM %s', view) INTO r;
    RETURN r;
END $$;
CREATE FUNCTION pg_temp.refunded_holds() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(DISTINCT h.holder_id, ',' ORDER BY h.holder_id), '')
      FROM api.hold_refunds r JOIN eventsvc.capacity_holds h ON h.id = r.hold_id
$$;
GRANT EXECUTE ON FUNCTION pg_temp.holders(text), pg_temp.refunded_holds() TO eventsvc_user, eventsvc_service;

-- anouk buys the box's 2 seats, bram holds 1 in the stalls; cato and dirk wait for the box;
-- the box office refunds one of anouk's seats: it is offered to cato.
SELECT pg_temp.as_buyer('anouk');
SELECT (api.confirm_hold((api.reserve_capacity('7c7c0000-0000-4000-8000-0000000000c1', 2,
         '7c7c0000-0000-4000-8000-0000000000f1')).id)).id AS anouk_box \gset
SELECT pg_temp.as_buyer('bram');
SELECT (api.reserve_capacity('7c7c0000-0000-4000-8000-0000000000c2', 1)).id AS bram_stalls \gset
SELECT pg_temp.as_buyer('cato');
SELECT (api.join_waitlist('7c7c0000-0000-4000-8000-0000000000c1', 1)) ->> 'id' AS cato_entry \gset
SELECT pg_temp.as_buyer('dirk');
SELECT (api.join_waitlist('7c7c0000-0000-4000-8000-0000000000c1', 1)) ->> 'id' AS dan_entry \gset
SELECT pg_temp.as_buyer('box-office');
SELECT (api.refund_purchase(:'anouk_box', 'seat broken', 1)) ->> 'seq' = '1' AS refunded;
-- anouk and bram each buy a seat of the matinee, which is then postponed: one decision each
SELECT pg_temp.as_buyer('anouk');
SELECT (api.confirm_hold((api.reserve_capacity('7c7c0000-0000-4000-8000-0000000000c3', 1)).id)).id
    AS anouk_matinee \gset
SELECT pg_temp.as_buyer('bram');
SELECT (api.confirm_hold((api.reserve_capacity('7c7c0000-0000-4000-8000-0000000000c3', 1)).id)).state AS bram_bought;
SELECT (api.postpone_event('7c7c0000-0000-4000-8000-0000000000e2', 'the stage is not ready')) ->> 'status' AS postponed;
-- anouk takes the refund, which the payment service refuses for good
SELECT pg_temp.as_buyer('anouk');
SELECT (api.decide_postponement(:'anouk_matinee', 'refund')) IS NOT NULL AS decided;
SELECT eventsvc.postponement_refund_failed(d.tenant_id, d.postponement_id, d.hold_id, 'payment-service answered 422',
                                           true, 5, 100, 1000)
  FROM eventsvc.postponement_decisions d WHERE d.hold_id = :'anouk_matinee';

SELECT is((SELECT string_agg(DISTINCT holder_id, ',' ORDER BY holder_id) FROM eventsvc.capacity_holds
            WHERE tenant_id = '7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c'), 'anouk,bram,cato',
          'the tenant has holds of anouk, bram and cato (the offer)');

-- ---------------------------------------------------------------- a buyer over SQL
SET ROLE eventsvc_user;
SELECT pg_temp.as_buyer('bram');
SELECT is(pg_temp.holders('api.holds'), 'bram', 'bram reads his own holds only');
SELECT is((SELECT count(*)::int FROM api.holds WHERE id = :'anouk_box'), 0, 'not anouk''s purchase, even by its id');
SELECT is((SELECT count(*)::int FROM api.holds WHERE holder_id = 'anouk'), 0, 'nor by her name');
SELECT is((SELECT count(*)::int FROM api.events e, api.holds(e) h WHERE e.id = '7c7c0000-0000-4000-8000-0000000000e1'),
          1, 'an event embeds bram''s hold only');
SELECT is((SELECT count(*)::int FROM api.event_sections s, api.holds(s) h WHERE s.id = '7c7c0000-0000-4000-8000-0000000000c1'),
          0, 'the box embeds none of the holds in it (none is bram''s)');
SELECT is(pg_temp.holders('api.waitlist_entries'), '', 'bram waits for nothing and sees nobody''s entry');
SELECT is(pg_temp.refunded_holds(), '', 'nor anybody''s refund');
SELECT is(pg_temp.holders('api.postponement_decisions'), 'bram', 'his own postponement decision only');
SELECT is((SELECT (r #>> '{refunds,failed}') || ' failed, listed: ' || jsonb_array_length(r -> 'failed')
             FROM api.postponement_report('7c7c0000-0000-4000-8000-0000000000e2') r), '1 failed, listed: 0',
          'the postponement report counts anouk''s failed refund but does not name her to him');

SELECT pg_temp.as_buyer('dirk');
SELECT is((SELECT string_agg(holder_id || ' #' || position, ',') FROM api.waitlist_entries), 'dirk #2',
          'dirk reads his own entry, not cato''s ahead of him');
SELECT is((api.waitlist_position('7c7c0000-0000-4000-8000-0000000000c1')) ->> 'rank', '1',
          'his rank among those waiting: cato has her offer');
SELECT is((SELECT count(*)::int FROM api.waitlist_entries WHERE id = :'cato_entry'), 0, 'cato''s entry is not his to see');
SELECT is((SELECT waiting || ' waiting, ' || offers_out || ' offer out' FROM api.waitlist_sections
            WHERE capacity_id = '7c7c0000-0000-4000-8000-0000000000c1'), '1 waiting, 1 offer out',
          'the section''s counts, which name nobody');

SELECT pg_temp.as_buyer('cato');
SELECT is((SELECT string_agg(holder_id || ' ' || state, ',') FROM api.waitlist_entries), 'cato OFFERED', 'cato reads her entry');
SELECT is((SELECT phase FROM api.holds), 'OFFERED', 'and her offer');

SELECT pg_temp.as_buyer('anouk');
SELECT is(pg_temp.refunded_holds(), 'anouk', 'anouk reads the refund of her purchase');
SELECT is((SELECT quantity || ' seat, ' || reason FROM api.hold_refunds WHERE hold_id = :'anouk_box'), '1 seat, seat broken',
          'with its reason');
SELECT is(pg_temp.holders('api.holds'), 'anouk', 'and her holds only');
SELECT is((api.postponement_report('7c7c0000-0000-4000-8000-0000000000e2')) #>> '{failed,0,holder_id}', 'anouk',
          'the report lists her own failed refund');

-- no holder named: the role's name is the actor, which holds nothing
RESET app.current_user_id;
SELECT is((SELECT count(*)::int FROM api.holds) + (SELECT count(*)::int FROM api.waitlist_entries)
          + (SELECT count(*)::int FROM api.hold_refunds) + (SELECT count(*)::int FROM api.postponement_decisions), 0,
          'a tenant user with no holder named sees no buyer''s rows');

-- ---------------------------------------------------------------- a buyer's token (the HTTP path)
SELECT set_config('request.jwt.claims',
                  '{"role": "eventsvc_user", "tenant_id": "7c7c7c7c-7c7c-4c7c-8c7c-7c7c7c7c7c7c", "sub": "cato"}', false) IS NOT NULL;
SELECT pg_temp.as_buyer('anouk');   -- ignored: the token's sub is the buyer
SELECT is(pg_temp.holders('api.holds') || '/' || pg_temp.holders('api.waitlist_entries'), 'cato/cato',
          'a token''s sub reads its own holds and entries, whatever app.current_user_id says');
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL;
RESET ROLE;

-- ---------------------------------------------------------------- the promoter and the services
SET ROLE eventsvc_admin;
SELECT pg_temp.as_buyer('box-office');
SELECT is(pg_temp.holders('api.holds'), 'anouk,bram,cato', 'the tenant admin reads every buyer''s holds');
SELECT is(pg_temp.holders('api.waitlist_entries') || '/' || pg_temp.refunded_holds() || '/'
          || pg_temp.holders('api.postponement_decisions'), 'cato,dirk/anouk/anouk,bram',
          'and every entry, refund and postponement decision');
SELECT is((api.postponement_report('7c7c0000-0000-4000-8000-0000000000e2')) #>> '{failed,0,purchase_id}', :'anouk_matinee',
          'and the failed refunds with their holders');
RESET ROLE;
SET ROLE eventsvc_service;
SELECT is(pg_temp.holders('api.holds') || '/' || pg_temp.holders('api.waitlist_entries') || '/'
          || pg_temp.refunded_holds(), 'anouk,bram,cato/cato,dirk/anouk', 'a service reads them all too');
RESET ROLE;

-- ---------------------------------------------------------------- the views
SELECT is((SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
            WHERE c.relnamespace = 'api'::regnamespace
              AND c.relname IN ('holds', 'waitlist_entries', 'hold_refunds', 'postponement_decisions')
              AND 'security_barrier=true' = ANY (c.reloptions) AND 'security_invoker=true' = ANY (c.reloptions)),
          'hold_refunds,holds,postponement_decisions,waitlist_entries',
          'the four views keep the caller''s RLS and are security barriers');
SELECT is((SELECT count(*)::int FROM information_schema.columns
            WHERE table_schema = 'api' AND table_name = 'waitlist_sections' AND column_name ~ 'holder'), 0,
          'the per-section counts have no holder column');

SELECT * FROM finish();

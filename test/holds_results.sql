-- pgTAP: the hold calls return a row of api.holds (a declared type typed clients and
-- PostgREST's OpenAPI see): reserve_capacity, confirm_hold, release_hold, extend_hold,
-- start_payment and confirm_payment each answer with exactly the row api.holds shows
-- for the hold afterwards (changed_at, reason and renewals included), an idempotent
-- retry with the same row, and a caller reads one field without a second call.
-- Commits as it goes, own tenant.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT plan(19);

SELECT eventsvc.create_tenant('Tap Results', 'tap-results', '4e4e4e4e-4e4e-4e4e-8e4e-4e4e4e4e4e4e') IS NOT NULL;
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity) VALUES
    ('4e4e4e4e-4e4e-4e4e-8e4e-4e4e4e4e4e4e', '4e4e0000-0000-4000-8000-00000000000a', 'Result Hall', 500);
SET eventsvc.import_mode = on;   -- a fixture on sale (docs/tenancy.md "Write rules")
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, slug, status) VALUES
    ('4e4e4e4e-4e4e-4e4e-8e4e-4e4e4e4e4e4e', '4e4e0000-0000-4000-8000-0000000000e1',
     '4e4e0000-0000-4000-8000-00000000000a', 'Result Night', 'result-night', 'ON_SALE');
RESET eventsvc.import_mode;
INSERT INTO eventsvc.event_capacity (tenant_id, id, event_id, section_name, total_capacity, available_capacity) VALUES
    ('4e4e4e4e-4e4e-4e4e-8e4e-4e4e4e4e4e4e', '4e4e0000-0000-4000-8000-0000000000c1',
     '4e4e0000-0000-4000-8000-0000000000e1', 'Stalls', 100, 100);
INSERT INTO eventsvc.event_pricing (tenant_id, id, event_id, name, base_price, service_fee, tax_rate) VALUES
    ('4e4e4e4e-4e4e-4e4e-8e4e-4e4e4e4e4e4e', '4e4e0000-0000-4000-8000-0000000000f1',
     '4e4e0000-0000-4000-8000-0000000000e1', 'Standard', 2500, 150, 0.19);
SET app.current_tenant_id = '4e4e4e4e-4e4e-4e4e-8e4e-4e4e4e4e4e4e';
SET app.current_user_id = 'rita';

SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'api'::regnamespace
       AND p.proname IN ('reserve_capacity', 'confirm_hold', 'release_hold', 'extend_hold', 'start_payment', 'confirm_payment')
       AND p.prorettype <> 'api.holds'::regtype
$$, 'the six hold calls are declared to return api.holds');
SELECT is((SELECT count(*)::integer FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace
                                                      AND p.prorettype = 'api.holds'::regtype AND NOT p.proretset), 6,
          'all six are there');

-- what a call answered, as jsonb, next to what the view shows for that hold afterwards
CREATE TEMP TABLE answers (step text PRIMARY KEY, answer jsonb);
CREATE FUNCTION pg_temp.as_view(step text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT to_jsonb(h) FROM api.holds h WHERE h.id = (SELECT (a.answer ->> 'id')::uuid FROM answers a WHERE a.step = as_view.step)
$$;
CREATE FUNCTION pg_temp.answer(step text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT a.answer FROM answers a WHERE a.step = answer.step
$$;

INSERT INTO answers SELECT 'reserve', to_jsonb(r) FROM api.reserve_capacity('4e4e0000-0000-4000-8000-0000000000c1', 2,
                                                                           '4e4e0000-0000-4000-8000-0000000000f1') r;
SELECT is(pg_temp.answer('reserve'), pg_temp.as_view('reserve'), 'reserve_capacity answers with the row api.holds shows');
SELECT is(pg_temp.answer('reserve') ->> 'renewals', '0', 'a new hold: renewals 0, as the view says');
SELECT is(pg_temp.answer('reserve') -> 'locked_price' ->> 'total', pg_temp.as_view('reserve') -> 'locked_price' ->> 'total',
          'the locked price comes as an object');
SELECT ok(pg_temp.answer('reserve') ->> 'changed_at' IS NOT NULL AND pg_temp.answer('reserve') ->> 'reason' IS NULL,
          'changed_at is the creation; a live hold has no reason');

INSERT INTO answers SELECT 'extend', to_jsonb(api.extend_hold((pg_temp.answer('reserve') ->> 'id')::uuid, 60));
SELECT is(pg_temp.answer('extend'), pg_temp.as_view('extend'), 'extend_hold answers with the row api.holds shows');
SELECT is(pg_temp.answer('extend') ->> 'renewals', '1', 'with its renewal counted');

INSERT INTO answers SELECT 'start_payment', to_jsonb(api.start_payment((pg_temp.answer('reserve') ->> 'id')::uuid, 'res-pay-1'));
SELECT is(pg_temp.answer('start_payment'), pg_temp.as_view('start_payment'), 'start_payment answers with the row api.holds shows');
SELECT pg_temp.answer('reserve') ->> 'id' AS paid_hold \gset

-- the payment service reports the payment
SET ROLE eventsvc_service;
SELECT to_jsonb(api.confirm_payment((:'paid_hold')::uuid, 'res-pay-1')) AS paid \gset
RESET ROLE;
INSERT INTO answers VALUES ('confirm_payment', :'paid');
SELECT is(pg_temp.answer('confirm_payment'), pg_temp.as_view('confirm_payment'), 'confirm_payment answers with the row api.holds shows');
SELECT is(pg_temp.answer('confirm_payment') ->> 'reason', 'sold', 'a sold hold says why');

INSERT INTO answers SELECT 'reserve2', to_jsonb(api.reserve_capacity('4e4e0000-0000-4000-8000-0000000000c1', 1));
INSERT INTO answers SELECT 'confirm', to_jsonb(api.confirm_hold((pg_temp.answer('reserve2') ->> 'id')::uuid));
SELECT is(pg_temp.answer('confirm'), pg_temp.as_view('confirm'), 'confirm_hold answers with the row api.holds shows');
SELECT is(pg_temp.answer('reserve2') ->> 'pricing_id', NULL, 'a hold without a tier: no price fields');

INSERT INTO answers SELECT 'reserve3', to_jsonb(api.reserve_capacity('4e4e0000-0000-4000-8000-0000000000c1', 1));
INSERT INTO answers SELECT 'release', to_jsonb(api.release_hold((pg_temp.answer('reserve3') ->> 'id')::uuid));
SELECT is(pg_temp.answer('release'), pg_temp.as_view('release'), 'release_hold answers with the row api.holds shows');
SELECT is(pg_temp.answer('release') ->> 'reason', 'released', 'with its reason');

-- an idempotent retry answers from what the first call stored: the same row
SELECT set_config('request.headers', '{"idempotency-key": "rita-hold-1"}', false);
INSERT INTO answers SELECT 'keyed', to_jsonb(api.reserve_capacity('4e4e0000-0000-4000-8000-0000000000c1', 3));
INSERT INTO answers SELECT 'keyed_again', to_jsonb(api.reserve_capacity('4e4e0000-0000-4000-8000-0000000000c1', 3));
SELECT set_config('request.headers', '', false);
SELECT is(pg_temp.answer('keyed_again'), pg_temp.answer('keyed'), 'an idempotent retry answers with the same row');

-- one field of the row, the call made once
SELECT is((SELECT count(*)::integer FROM eventsvc.capacity_holds WHERE tenant_id = current_setting('app.current_tenant_id')::uuid),
          4, 'four holds so far');
SELECT is((api.reserve_capacity('4e4e0000-0000-4000-8000-0000000000c1', 1)).quantity, 1, '(api.reserve_capacity(...)).quantity');
SELECT is((SELECT count(*)::integer FROM eventsvc.capacity_holds WHERE tenant_id = current_setting('app.current_tenant_id')::uuid),
          5, 'made one hold');

SELECT * FROM finish();

-- Search ranking, pgTAP: eventsvc.search_rank(document, query) is ts_rank_cd(document,
-- query) to the bit, on generated documents and on the edge cases of its one-word
-- path (weights, repeats, the last position, no positions), for one-word queries and
-- for every other query shape (left to ts_rank_cd); api.search_events returns the
-- rows and order ts_rank_cd gives; the function is not callable by the API roles.
BEGIN;
SELECT plan(12);

-- Documents shaped like the search documents (part 61): weighted parts joined with ||,
-- words from a small vocabulary so that one word is repeated across the weights.
SELECT setseed(0.42);
CREATE TEMP TABLE words AS
SELECT ARRAY['rock', 'jazz', 'night', 'live', 'blue', 'the', 'of', 'hall', 'opera', 'tour', 'gala', 'neon'] AS w;
CREATE TEMP TABLE docs AS
SELECT n,
       setweight(to_tsvector('simple', p.a), 'A') || setweight(to_tsvector('simple', p.b), 'B')
       || setweight(to_tsvector('simple', p.c), 'C') || to_tsvector('simple', p.d) AS document
  FROM generate_series(1, 2000) n
 CROSS JOIN LATERAL (
       SELECT coalesce((SELECT string_agg(w[1 + floor(random() * 12)::int + 0 * g], ' ')
                          FROM generate_series(1, 1 + (n % 4)) g), '') AS a,
              coalesce((SELECT string_agg(w[1 + floor(random() * 12)::int + 0 * g], ' ')
                          FROM generate_series(1, n % 7) g), '') AS b,
              coalesce((SELECT string_agg(w[1 + floor(random() * 12)::int + 0 * g], ' ')
                          FROM generate_series(1, n % 23) g), '') AS c,
              coalesce((SELECT string_agg(w[1 + floor(random() * 12)::int + 0 * g], ' ')
                          FROM generate_series(1, n % 3) g), '') AS d
         FROM words) p;
-- Edge cases: the last position (16,383: every later one is clamped to it), a word at
-- every weight at once, no positions (stripped, or written without), empty.
INSERT INTO docs VALUES
    (-1, 'rock:1A,2B,3C,4 jazz:16383A'::tsvector),
    (-2, 'rock:16380B,16381,16382A,16383C'::tsvector),
    (-3, 'rock:1,16383,20000,30000'::tsvector),
    (-4, strip(to_tsvector('simple', 'rock jazz rock'))),
    (-5, 'rock jazz'::tsvector),
    (-6, ''::tsvector),
    (-7, 'rock:1A jazz:2'::tsvector || 'rock:16000B'::tsvector || 'rock:900C'::tsvector),
    (-8, setweight(to_tsvector('simple', repeat('rock ', 600)), 'B'));
SET LOCAL client_min_messages = warning;   -- the NOTICE of an empty tsquery
CREATE TEMP TABLE queries (q tsquery, one_word boolean);
INSERT INTO queries
SELECT to_tsquery('simple', x), true FROM unnest((SELECT w FROM words) || ARRAY['absent']) x;
INSERT INTO queries VALUES
    ('rock:A', false), ('rock:BC', false), ('roc:*', false), ('rock & jazz', false), ('rock | jazz', false),
    ('!rock', false), ('rock <-> jazz', false), ('rock & !jazz', false), (''::tsquery, false),
    (websearch_to_tsquery('simple', '"blue note" -jazz'), false), (websearch_to_tsquery('simple', 'rock'), true);

SELECT is((SELECT count(*)::int FROM docs d, queries q
            WHERE q.one_word AND float4send(eventsvc.search_rank(d.document, q.q)) <> float4send(ts_rank_cd(d.document, q.q))),
          0, 'one-word queries: search_rank is ts_rank_cd to the bit on every document (2,008 documents, 14 words)');
SELECT is((SELECT count(*)::int FROM docs d, queries q
            WHERE NOT q.one_word AND float4send(eventsvc.search_rank(d.document, q.q)) <> float4send(ts_rank_cd(d.document, q.q))),
          0, 'weights, prefixes, AND, OR, NOT, phrases, empty: search_rank is ts_rank_cd to the bit');
SELECT cmp_ok((SELECT count(DISTINCT ts_rank_cd(d.document, q.q))::int FROM docs d, queries q WHERE q.one_word), '>', 20,
              'the generated documents give many distinct ranks (the comparison is not of zeros)');
SELECT is(round(eventsvc.search_rank('rock:1A,2B,3C,4 jazz:16383A', 'rock')::numeric, 4), 1.7,
          'a word at every weight: A 1.0 + B 0.4 + C 0.2 + D 0.1');
SELECT is(eventsvc.search_rank('rock:1A,2B,3C,4 jazz:16383A', 'jazz'), 1::real, 'a word at the last position');
SELECT is(eventsvc.search_rank(strip(to_tsvector('simple', 'rock jazz rock')), 'rock'), 0::real,
          'a document without positions ranks 0, as ts_rank_cd ranks it');
SELECT is(eventsvc.search_rank('rock:1A'::tsvector, 'absent'), 0::real, 'a word the document lacks ranks 0');
SELECT ok(eventsvc.search_rank(NULL, 'rock') IS NULL AND eventsvc.search_rank('rock:1', NULL) IS NULL,
          'NULL in, NULL out (STRICT)');

-- api.search_events: the same rows in the same order as ranking by ts_rank_cd.
SELECT eventsvc.create_tenant('Rank A', 'rank-a', '7e111111-1111-4111-8111-111111111111');
-- Four venues: four events start at each time (ties of rank and start are ordered by id).
INSERT INTO eventsvc.venues (tenant_id, id, name, capacity)
SELECT '7e111111-1111-4111-8111-111111111111', ('7e111111-0000-4000-8000-0000000000a' || v)::uuid, 'Rank Hall ' || v, 5000
  FROM generate_series(0, 3) v;
SET LOCAL eventsvc.import_mode = on;
INSERT INTO eventsvc.events (tenant_id, id, venue_id, name, short_description, description, status, visibility,
                             starts_at, ends_at, slug)
SELECT '7e111111-1111-4111-8111-111111111111', md5('rank-event' || n)::uuid,
       ('7e111111-0000-4000-8000-0000000000a' || n % 4)::uuid, x.a, x.b, x.c, 'ON_SALE', 'PUBLIC',
       '2031-01-01'::timestamptz + (n / 4) * interval '1 day', '2031-01-01'::timestamptz + (n / 4) * interval '1 day' + interval '2 hours',
       'rank-event-' || n
  FROM generate_series(1, 60) n
 CROSS JOIN LATERAL (SELECT coalesce(string_agg(w[1 + (n * k * 7 + k) % 12], ' '), 'x') AS a,
                            'A ' || w[1 + n % 12] || ' evening' AS b,
                            repeat(w[1 + (n / 5) % 12] || ' ', n % 4) || 'of the tour' AS c
                       FROM words, generate_series(1, 1 + n % 3) k GROUP BY w) x;
RESET eventsvc.import_mode;
CREATE TEMP TABLE expected AS
SELECT q.word, d.event_id, ts_rank_cd(d.document, to_tsquery('simple', q.word)) AS rank,
       row_number() OVER (PARTITION BY q.word ORDER BY ts_rank_cd(d.document, to_tsquery('simple', q.word)) DESC,
                                                       d.starts_at NULLS LAST, d.event_id) AS k
  FROM unnest(ARRAY['rock', 'jazz', 'tour', 'night']) q(word)
  JOIN eventsvc.event_search_documents d ON d.document @@ to_tsquery('simple', q.word) AND d.listed
 WHERE d.tenant_id = '7e111111-1111-4111-8111-111111111111';
GRANT SELECT ON expected, words TO PUBLIC;
SELECT cmp_ok((SELECT count(DISTINCT rank)::int FROM expected), '>', 5, 'the events rank differently');
SET LOCAL ROLE eventsvc_anon;
SELECT results_eq(
    $$SELECT q.word, s.id, s.rank FROM unnest(ARRAY['rock', 'jazz', 'tour', 'night']) q(word)
       CROSS JOIN LATERAL api.search_events(q.word, page_limit => 100,
                                            tenant_id => '7e111111-1111-4111-8111-111111111111') WITH ORDINALITY s
       ORDER BY q.word, s.ordinality$$,
    $$SELECT word, event_id, rank FROM expected ORDER BY word, k$$,
    'anonymous search by one word: the rows and order of ts_rank_cd, then start, then id');
SELECT results_eq(
    $$SELECT s.id, s.rank FROM api.search_events('rock', is_virtual => false, page_limit => 100,
                                                 tenant_id => '7e111111-1111-4111-8111-111111111111') s$$,
    $$SELECT event_id, rank FROM expected WHERE word = 'rock' ORDER BY k$$,
    'search by a word and an event filter (the events joined to their documents): the same rows and order');
RESET ROLE;
SELECT ok(NOT has_function_privilege('eventsvc_anon', 'eventsvc.search_rank(tsvector, tsquery)', 'EXECUTE')
          AND NOT has_function_privilege('eventsvc_user', 'eventsvc.search_rank(tsvector, tsquery)', 'EXECUTE'),
          'search_rank is not granted to the API roles (nor to PUBLIC)');

SELECT * FROM finish();
ROLLBACK;

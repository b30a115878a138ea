-- Search ranking, pgTAP: eventsvc.search_rank(document, query) is ts_rank_cd(document,
-- query) to the bit, on generated documents (weighted parts joined as the search
-- documents are, random positions and weights up to the last position, documents
-- longer than 16,383 words) and on the edge cases of its one-word path (weights,
-- repeats, the last position, no positions, binary input with a position 0 or a
-- lexeme twice), for one-word queries and for every other query shape (weights,
-- prefixes, NOT, phrases, stop words only: left to ts_rank_cd); it is IMMUTABLE,
-- STRICT, PARALLEL SAFE and executable by no one but its owner; api.search_events
-- returns the rows and order ts_rank_cd gives, for plain and for hostile words.
BEGIN;
SELECT plan(19);

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
-- Random positions (1 to 16,383) and weights, written as tsvector text: the input
-- sorts each word's positions and keeps the highest weight of a repeated one.
INSERT INTO docs
SELECT 10000 + n,
       coalesce((SELECT string_agg(wd || ':' ||
                                   (SELECT string_agg(((1 + floor(random() * CASE WHEN n % 3 = 0 THEN 16383 ELSE 40 END))::int + 0 * g)::text
                                                      || (ARRAY['A', 'B', 'C', 'D', ''])[1 + floor(random() * 5)::int], ',')
                                      FROM generate_series(1, 1 + floor(random() * CASE WHEN n % 5 = 0 THEN 200 ELSE 5 END)::int + 0 * length(wd)) g),
                                   ' ')
                   FROM unnest((SELECT w FROM words)) wd
                  WHERE random() < 0.4 + 0 * n), '')::tsvector
  FROM generate_series(1, 600) n;
-- Documents longer than the last position: every word past it is clamped to 16,383
-- (a word keeps at most 256 positions, so most words here are fillers).
INSERT INTO docs
SELECT 20000 + n,
       setweight(to_tsvector('simple', 'rock jazz'), 'A')
       || to_tsvector('simple', (SELECT string_agg(CASE WHEN g % 50 = 0 THEN w[1 + floor(random() * 12)::int]
                                                        ELSE 'x' || g % 997 END, ' ')
                                   FROM words, generate_series(1, 17000 + n) g))
  FROM generate_series(1, 3) n;
-- Binary input (COPY ... FORMAT binary, as a client's binary parameter would arrive):
-- a word whose first position is 0 (the text input refuses it; ts_rank_cd finds no
-- cover in such a document and ranks it 0), and a word stored twice.
CREATE TEMP TABLE wire (n integer, document tsvector);
DO $$
DECLARE
    -- tsvector_send's format: lexeme count; per lexeme its text, a zero byte, the
    -- position count and each position (weight in the top two bits: 11 A, 10 B, 00 D)
    documents bytea[] := ARRAY[
        '\x00000001'::bytea || convert_to('rock', 'UTF8') || '\x000003c00080050009'::bytea,  -- rock:0A,5B,9
        '\x00000002'::bytea || convert_to('jazz', 'UTF8') || '\x0000010002'::bytea
                             || convert_to('rock', 'UTF8') || '\x0000020000c007'::bytea,      -- jazz:2 rock:0,7A
        '\x00000002'::bytea || convert_to('rock', 'UTF8') || '\x000001c001'::bytea
                             || convert_to('rock', 'UTF8') || '\x00000200038004'::bytea];     -- rock:1A and rock:3,4B
    file bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea;
BEGIN
    FOR i IN 1 .. array_length(documents, 1) LOOP
        file := file || '\x0002'::bytea || int4send(4) || int4send(-100 - i)
                     || int4send(length(documents[i])) || documents[i];
    END LOOP;
    file := file || '\xffff'::bytea;
    EXECUTE format('COPY wire FROM PROGRAM %L WITH (FORMAT binary)',
                   'echo ' || translate(encode(file, 'base64'), E'\n', '') || ' | base64 -d');
END
$$;
INSERT INTO docs SELECT * FROM wire;
SET LOCAL client_min_messages = warning;   -- the NOTICE of an empty tsquery
CREATE TEMP TABLE queries (q tsquery, one_word boolean);
INSERT INTO queries
SELECT to_tsquery('simple', x), true FROM unnest((SELECT w FROM words) || ARRAY['absent']) x;
INSERT INTO queries VALUES
    ('rock:A', false), ('rock:BC', false), ('rock:D', false), ('roc:*', false), ('rock:*A', false),
    ('rock & jazz', false), ('rock | jazz', false), ('rock & rock', false), ('!rock', false), ('!!rock', false),
    ('rock <-> jazz', false), ('rock <2> jazz', false), ('rock & !jazz', false), ('(rock | jazz) & !neon', false),
    (''::tsquery, false), (to_tsquery('english', 'the & of'), false),
    (websearch_to_tsquery('simple', '"blue note" -jazz'), false), (websearch_to_tsquery('simple', '-rock'), false),
    (websearch_to_tsquery('simple', 'rock'), true), (websearch_to_tsquery('english', 'the rock'), true);

SELECT is((SELECT count(*)::int FROM docs d, queries q
            WHERE q.one_word AND float4send(eventsvc.search_rank(d.document, q.q)) <> float4send(ts_rank_cd(d.document, q.q))),
          0, 'one-word queries: search_rank is ts_rank_cd to the bit on every document (2,614 documents, 15 words)');
SELECT is((SELECT count(*)::int FROM docs d, queries q
            WHERE NOT q.one_word AND float4send(eventsvc.search_rank(d.document, q.q)) <> float4send(ts_rank_cd(d.document, q.q))),
          0, 'weights, prefixes, AND, OR, NOT, phrases, stop words only, empty: search_rank is ts_rank_cd to the bit');
SELECT cmp_ok((SELECT count(DISTINCT ts_rank_cd(d.document, q.q))::int FROM docs d, queries q WHERE q.one_word), '>', 300,
              'the generated documents give many distinct ranks (the comparison is not of zeros)');
SELECT is((SELECT count(*)::int FROM docs WHERE n > 20000
                AND EXISTS (SELECT 1 FROM unnest(document) u WHERE 16383 = ANY (u.positions))), 3,
          'the long documents reach the last position (their rank counts clamped positions)');
SELECT is((SELECT array_agg(eventsvc.search_rank(document, 'rock') ORDER BY n DESC) FROM wire),
          ARRAY[0, 0, ts_rank_cd((SELECT document FROM wire WHERE n = -103), 'rock')]::real[],
          'binary input: a word first at position 0 ranks 0 as with ts_rank_cd (not 1.5, the sum of its weights)');
SELECT cmp_ok((SELECT eventsvc.search_rank(document, 'rock') FROM wire WHERE n = -103), '>', 0::real,
              'binary input: a word stored twice ranks as ts_rank_cd ranks the one it finds');
SELECT is(round(eventsvc.search_rank('rock:1A,2B,3C,4 jazz:16383A', 'rock')::numeric, 4), 1.7,
          'a word at every weight: A 1.0 + B 0.4 + C 0.2 + D 0.1');
SELECT is(eventsvc.search_rank('rock:1A,2B,3C,4 jazz:16383A', 'jazz'), 1::real, 'a word at the last position');
SELECT is(eventsvc.search_rank(strip(to_tsvector('simple', 'rock jazz rock')), 'rock'), 0::real,
          'a document without positions ranks 0, as ts_rank_cd ranks it');
SELECT is(eventsvc.search_rank('rock:1A'::tsvector, 'absent'), 0::real, 'a word the document lacks ranks 0');
SELECT ok(eventsvc.search_rank(NULL, 'rock') IS NULL AND eventsvc.search_rank('rock:1', NULL) IS NULL,
          'NULL in, NULL out (STRICT)');
SELECT is((SELECT ARRAY[provolatile::text, proparallel::text, proisstrict::text, prorettype::regtype::text]
             FROM pg_proc WHERE oid = 'eventsvc.search_rank(tsvector, tsquery)'::regprocedure),
          (SELECT ARRAY[provolatile::text, proparallel::text, proisstrict::text, prorettype::regtype::text]
             FROM pg_proc WHERE oid = 'ts_rank_cd(tsvector, tsquery)'::regprocedure),
          'declared as ts_rank_cd is: IMMUTABLE, PARALLEL SAFE, STRICT, real');

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
-- Words as anyone may type them: NOT, phrases, operators and punctuation of tsquery
-- text, stop-word-like words, a long query. websearch_to_tsquery turns them into
-- every query shape there is, or into none (then no rows).
CREATE TEMP TABLE hostile (q text);
INSERT INTO hostile VALUES ('-rock'), ('"rock tour"'), ('rock -jazz'), ('rock or jazz'), ('!!'), ('"" -'),
    ('tour:*'), ('rock:A'), ('<-> & |'), ('of the'), ('"of the tour" -night'), (repeat('rock ', 90)), ('''rock'''),
    (E'rock\\'), ('-');
GRANT SELECT ON hostile TO PUBLIC;
CREATE TEMP TABLE hostile_expected AS
SELECT h.q, d.event_id, ts_rank_cd(d.document, websearch_to_tsquery('simple', h.q)) AS rank,
       row_number() OVER (PARTITION BY h.q ORDER BY ts_rank_cd(d.document, websearch_to_tsquery('simple', h.q)) DESC,
                                                   d.starts_at NULLS LAST, d.event_id) AS k
  FROM hostile h
  JOIN eventsvc.event_search_documents d ON d.document @@ websearch_to_tsquery('simple', h.q) AND d.listed
 WHERE d.tenant_id = '7e111111-1111-4111-8111-111111111111' AND numnode(websearch_to_tsquery('simple', h.q)) > 0;
GRANT SELECT ON hostile_expected TO PUBLIC;
SELECT cmp_ok((SELECT count(DISTINCT q)::int FROM hostile_expected), '>=', 8, 'most hostile words find events');
SET LOCAL ROLE eventsvc_anon;
SELECT results_eq(
    $$SELECT h.q, s.id, s.rank FROM hostile h
       CROSS JOIN LATERAL api.search_events(h.q, page_limit => 100,
                                            tenant_id => '7e111111-1111-4111-8111-111111111111') WITH ORDINALITY s
       ORDER BY h.q, s.ordinality$$,
    $$SELECT q, event_id, rank FROM hostile_expected ORDER BY q, k$$,
    'anonymous search by hostile words: no error, the rows and order of ts_rank_cd');
RESET ROLE;
SELECT ok(NOT has_function_privilege('eventsvc_anon', 'eventsvc.search_rank(tsvector, tsquery)', 'EXECUTE')
          AND NOT has_function_privilege('eventsvc_user', 'eventsvc.search_rank(tsvector, tsquery)', 'EXECUTE'),
          'search_rank is not granted to the API roles');
SELECT ok((SELECT proacl IS NOT NULL   -- a NULL acl is the default: EXECUTE for PUBLIC
                  AND NOT EXISTS (SELECT 1 FROM aclexplode(proacl) a WHERE a.grantee = 0)
             FROM pg_proc WHERE oid = 'eventsvc.search_rank(tsvector, tsquery)'::regprocedure),
          'search_rank is not granted to PUBLIC');

SELECT * FROM finish();
ROLLBACK;

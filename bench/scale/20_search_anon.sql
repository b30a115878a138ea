-- as: anon
-- runs: 300
-- what: search_events(q => a word), anonymous
\set w random(1, 20)
SELECT count(*) FROM api.search_events(q => (ARRAY['jazz','rock','opera','comedy','football','basketball','symphony','techno','blues','theatre','midnight','golden','electric','summer','neon','festival','tour','gala','velvet','royal'])[:w]);

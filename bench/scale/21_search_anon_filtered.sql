-- as: anon
-- runs: 300
-- what: search_events(q, category, starts_from => now), anonymous
\set w random(1, 20)
\set c random(1, 17)
SELECT count(*) FROM api.search_events(q => (ARRAY['jazz','rock','opera','comedy','football','basketball','symphony','techno','blues','theatre','midnight','golden','electric','summer','neon','festival','tour','gala','velvet','royal'])[:w],
                                       category => (ARRAY['arts','basketball','classical','comedy','conference','electronic','family','festival','football','jazz','music','nightlife','other','rock','sports','theater','workshop'])[:c],
                                       starts_from => now());

-- as: anon
-- runs: 300
-- what: public_events tags=cs.{X} with Prefer: count=exact (the count)
\set g random(1, 40)
SELECT count(*) FROM api.public_events WHERE tags @> ARRAY[(ARRAY['live','outdoor','family','vip','acoustic','late-night','free','accessible','all-ages','18+','festival','premiere','sold-fast','seated','standing','local','touring','charity','student','seniors','rock','jazz','pop','classical','electronic','indie','metal','rap','country','latin','comedy','drama','dance','sports','conference','workshop','kids','food','art','film'])[:g]];

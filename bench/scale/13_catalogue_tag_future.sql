-- as: anon
-- runs: 300
-- what: public_events tags=cs.{X}, starts_at=gt.now, order=starts_at,id, limit 20
\set g random(1, 40)
SELECT coalesce(json_agg(t), '[]') FROM (
    SELECT * FROM api.public_events
     WHERE tags @> ARRAY[(ARRAY['live','outdoor','family','vip','acoustic','late-night','free','accessible','all-ages','18+','festival','premiere','sold-fast','seated','standing','local','touring','charity','student','seniors','rock','jazz','pop','classical','electronic','indie','metal','rap','country','latin','comedy','drama','dance','sports','conference','workshop','kids','food','art','film'])[:g]] AND starts_at > now()
     ORDER BY starts_at, id LIMIT 20) t;

-- as: anon
-- runs: 300
-- what: categories + category_tree, anonymous
SELECT count(*) FROM api.categories;
SELECT count(*) FROM api.category_tree();

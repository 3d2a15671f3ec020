DROP TABLE seal_grants;
DROP TABLE seals;

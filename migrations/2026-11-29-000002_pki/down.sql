DROP TABLE certificates;
DROP TABLE platform_keys;

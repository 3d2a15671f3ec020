DROP TABLE signing_codes;

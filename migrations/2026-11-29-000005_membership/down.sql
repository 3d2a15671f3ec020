DROP TABLE member_business_types;
DROP TABLE join_applications;

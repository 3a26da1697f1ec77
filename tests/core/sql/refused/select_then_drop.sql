-- error: found 2 statements (SELECT, DROP)
SELECT amperity_id AS id FROM Customer_360; DROP TABLE Customer_360

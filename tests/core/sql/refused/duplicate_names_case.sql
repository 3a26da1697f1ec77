-- error: the query returns the column 'id' more than once
SELECT amperity_id AS ID, email AS id FROM Customer_360

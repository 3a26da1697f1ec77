-- columns: Email_Address, External ID, order_count
SELECT email AS Email_Address, amperity_id AS "External ID", 0 AS order_count
FROM customer_360

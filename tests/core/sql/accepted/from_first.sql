-- columns: id, email
FROM Customer_360 SELECT amperity_id AS id, email

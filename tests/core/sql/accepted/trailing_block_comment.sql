-- columns: id
SELECT amperity_id AS id FROM Customer_360 /* the end */ ;

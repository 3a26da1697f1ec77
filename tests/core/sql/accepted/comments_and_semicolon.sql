-- columns: id
/* a leading block comment */
SELECT amperity_id AS id -- trailing comment
FROM Customer_360;

-- columns: id, email
WITH orders AS (
    SELECT order_id, amperity_id FROM Unified_Itemized_Transactions
), contacts AS (
    SELECT amperity_id, email FROM Customer_360 WHERE email IS NOT NULL
)
SELECT o.order_id AS id, c.email
FROM orders o JOIN contacts c USING (amperity_id)

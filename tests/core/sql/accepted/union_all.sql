-- columns: id, kind
SELECT amperity_id AS id, 'customer' AS kind FROM Customer_360
UNION ALL
SELECT order_id, 'order' FROM Unified_Itemized_Transactions

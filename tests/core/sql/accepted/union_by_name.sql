-- columns: id, email
SELECT amperity_id AS id, email FROM Customer_360
UNION ALL BY NAME
SELECT order_id AS id, NULL AS email FROM Unified_Itemized_Transactions

-- columns: id
SELECT amperity_id AS id FROM Customer_360
EXCEPT
SELECT amperity_id FROM Unified_Itemized_Transactions

-- columns: id
SELECT order_id AS id FROM Unified_Itemized_Transactions; -- done

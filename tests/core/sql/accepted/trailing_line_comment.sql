-- columns: id
SELECT order_id AS id
FROM Unified_Itemized_Transactions
-- WHERE item_quantity > 1

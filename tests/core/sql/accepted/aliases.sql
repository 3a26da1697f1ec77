-- columns: id, quantity, revenue
SELECT uit.order_id AS id, uit.item_quantity AS quantity, uit.item_revenue revenue
FROM Unified_Itemized_Transactions AS uit

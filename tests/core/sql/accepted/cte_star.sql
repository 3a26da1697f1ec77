-- columns: order_id, units
WITH per_order AS (
    SELECT order_id, sum(item_quantity) AS units
    FROM Unified_Itemized_Transactions
    GROUP BY order_id
)
SELECT * FROM per_order

-- columns: order_id, product_id, rn
SELECT order_id, product_id,
       row_number() OVER (PARTITION BY order_id ORDER BY product_id) AS rn
FROM Unified_Itemized_Transactions
QUALIFY rn = 1

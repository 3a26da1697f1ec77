-- columns: order_datetime, CAST(order_datetime AS DATE)
SELECT order_datetime, CAST(order_datetime AS DATE) FROM Unified_Itemized_Transactions

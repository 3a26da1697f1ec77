-- error: (tables: Customer_360, Unified_Itemized_Transactions)
SELECT * FROM orders

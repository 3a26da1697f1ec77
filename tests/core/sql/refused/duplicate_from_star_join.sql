-- error: the query returns the column 'amperity_id' more than once
SELECT * FROM Customer_360 c JOIN Unified_Itemized_Transactions u ON c.amperity_id = u.amperity_id

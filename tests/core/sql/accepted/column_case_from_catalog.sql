-- columns: email, order_id
SELECT C.EMAIL, U.Order_Id
FROM customer_360 c JOIN unified_itemized_transactions u ON c.amperity_id = u.amperity_id

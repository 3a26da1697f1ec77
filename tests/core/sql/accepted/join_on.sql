-- columns: order_id, email, phone, item_revenue
SELECT u.order_id, c.email, c.phone, u.item_revenue
FROM Unified_Itemized_Transactions u
LEFT JOIN Customer_360 c ON u.amperity_id = c.amperity_id

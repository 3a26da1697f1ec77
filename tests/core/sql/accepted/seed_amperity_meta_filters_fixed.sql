-- columns: external_id, email, order_id, quantity, timestamp, price, currency
-- The seed's tip, with 'ACME Essentials' in single quotes as DuckDB needs.
SELECT
  c360.amperity_id AS external_id
  ,c360.email AS email
  ,uit.order_id AS order_id
  ,uit.item_quantity AS quantity
  ,uit.order_datetime AS timestamp
  ,CAST(uit.item_revenue / uit.item_quantity AS DOUBLE) AS price
  ,'USD' AS currency
FROM Unified_Itemized_Transactions uit
LEFT JOIN Customer_360 c360 ON uit.amperity_id = c360.amperity_id
WHERE uit.order_datetime > (CURRENT_DATE - interval '7' day)
AND uit.purchase_channel = 'channel'
AND uit.purchase_brand = 'ACME Essentials'
AND uit.item_quantity > 0
AND (c360.email IS NOT NULL OR c360.phone IS NOT NULL)
AND (
    (is_cancellation IS NULL)
    OR (NOT is_cancellation)
)
AND (
    (is_return IS NULL)
    OR (NOT is_return)
)

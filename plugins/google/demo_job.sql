/* offramp
destination = "google"

[settings]
# The Google Ads account that owns the conversion action (hyphens are fine).
operating_account_id = "123-456-7890"
conversion_action_id = "555000111"
# The job's consent default for rows without consent columns.
ad_user_data = "granted"
ad_personalization = "granted"
default_country = "US"
# OAuth: GOOGLE_ADS_CLIENT_ID, GOOGLE_ADS_CLIENT_SECRET, GOOGLE_ADS_REFRESH_TOKEN.
# The demo points these at the local emulator; unset, they are Google's.
base_url = "${GOOGLE_DATAMANAGER_URL:-https://datamanager.googleapis.com}"
token_uri = "${GOOGLE_TOKEN_URI:-https://oauth2.googleapis.com/token}"
*/
SELECT
  uit.order_id AS order_id
  ,uit.order_datetime AS timestamp
  ,uit.item_quantity AS quantity
  ,uit.product_id AS product_id
  ,CAST(uit.item_revenue / uit.item_quantity AS DOUBLE) AS price
  ,'USD' AS currency
  ,c360.email AS email
  ,c360.phone AS phone
  ,c360.given_name AS given_name
  ,c360.surname AS surname
  ,c360.postal AS postal
  ,c360.country AS country
FROM Unified_Itemized_Transactions uit
LEFT JOIN Customer_360 c360 ON uit.amperity_id = c360.amperity_id
WHERE uit.order_datetime > (CURRENT_DATE - interval '30' day)

-- columns: amperity_id, order_id, item_quantity, product_id, order_datetime, item_revenue, purchase_channel, purchase_brand, is_cancellation, is_return, email, phone, given_name, surname, birthdate, gender, city, state, postal, country
SELECT * FROM Unified_Itemized_Transactions JOIN Customer_360 USING (amperity_id)

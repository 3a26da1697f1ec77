-- columns: email, phone, given_name, surname, birthdate, gender, city, state, postal, country, order_id
SELECT c.* EXCLUDE (amperity_id), u.order_id
FROM Customer_360 c JOIN Unified_Itemized_Transactions u USING (amperity_id)

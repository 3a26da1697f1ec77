-- columns: amperity_id, email, phone, given_name, surname, birthdate, gender, city, state, postal, country
SELECT * REPLACE (lower(trim(email)) AS email) FROM Customer_360

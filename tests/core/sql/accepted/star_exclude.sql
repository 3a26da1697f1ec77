-- columns: amperity_id, email, phone, given_name, surname, city, state, postal, country
SELECT * EXCLUDE (birthdate, gender) FROM Customer_360

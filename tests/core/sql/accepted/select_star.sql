-- columns: amperity_id, email, phone, given_name, surname, birthdate, gender, city, state, postal, country
SELECT * FROM Customer_360

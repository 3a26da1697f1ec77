-- error: the query returns the column 'email' more than once
SELECT email, phone AS email FROM Customer_360

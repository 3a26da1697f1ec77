-- error: the query returns the column 'lower(email)' more than once
SELECT lower(email), lower(email) FROM Customer_360

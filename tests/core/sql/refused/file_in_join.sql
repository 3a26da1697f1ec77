-- error: it reads the file 'other.csv'
SELECT c.email FROM Customer_360 c JOIN 'other.csv' o ON c.amperity_id = o.id

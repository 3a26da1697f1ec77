-- error: COPY is not allowed
COPY (SELECT * FROM Customer_360) TO 'customers.csv' (HEADER)

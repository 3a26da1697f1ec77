-- error: table 'Customer_36' is not in the warehouse; did you mean Customer_360?
SELECT * FROM Customer_36

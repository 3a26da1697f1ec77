-- error: it contains INTO
SELECT * INTO customers_copy FROM Customer_360

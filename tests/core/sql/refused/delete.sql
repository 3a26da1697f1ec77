-- error: DELETE is not allowed
DELETE FROM Customer_360

-- error: UPDATE is not allowed
UPDATE Customer_360 SET email = NULL

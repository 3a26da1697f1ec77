-- error: DROP is not allowed
DROP TABLE Customer_360

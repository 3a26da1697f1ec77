-- error: CREATE is not allowed
CREATE TABLE copy AS SELECT * FROM Customer_360

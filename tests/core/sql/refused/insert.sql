-- error: INSERT is not allowed
INSERT INTO Customer_360 (amperity_id) VALUES ('x')

-- error: read_text() reads files
SELECT * FROM Customer_360, LATERAL read_text(email)

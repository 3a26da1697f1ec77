-- error: sniff_csv() is not allowed
SELECT * FROM Customer_360 c JOIN LATERAL sniff_csv(c.email) ON TRUE

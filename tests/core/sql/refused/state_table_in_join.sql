-- error: table 'state.main.runs' is not in the warehouse
SELECT c.email FROM Customer_360 c, state.main.runs r

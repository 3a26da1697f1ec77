-- error: table 'state.ledger' is not in the warehouse
SELECT * FROM state.ledger

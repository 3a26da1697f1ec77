-- error: nextval() changes a sequence
SELECT nextval('state.main.run_ids') AS id

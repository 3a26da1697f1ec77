-- columns: id
SELECT r.id FROM range(3) AS r(id)

-- error: table 'sqlite_master' is not in the warehouse
SELECT * FROM Customer_360
WHERE EXISTS (WITH sqlite_master AS (SELECT 1 AS name) SELECT * FROM sqlite_master)
  AND amperity_id IN (SELECT name FROM sqlite_master)

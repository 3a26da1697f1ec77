-- columns: id, units
SELECT sub.id, sub.units
FROM (SELECT order_id AS id, sum(item_quantity) AS units
      FROM Unified_Itemized_Transactions GROUP BY 1) AS sub
WHERE sub.units > 0

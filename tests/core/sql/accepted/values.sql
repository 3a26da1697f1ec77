-- columns: col0, col1
VALUES (1, 'a'), (2, 'b')

-- error: read_text() reads files
WITH f AS (SELECT * FROM read_text('queries/secret.sql')) SELECT content FROM f

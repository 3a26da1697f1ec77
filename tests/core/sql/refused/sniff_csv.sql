-- error: sniff_csv() is not allowed
SELECT * FROM sniff_csv('queries/job.sql')

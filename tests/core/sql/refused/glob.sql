-- error: glob() reads files
SELECT * FROM glob('/etc/*')

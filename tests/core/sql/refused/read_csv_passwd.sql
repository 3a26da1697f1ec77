-- error: read_csv() reads files or other databases
SELECT * FROM read_csv('/etc/passwd')

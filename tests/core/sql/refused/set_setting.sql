-- error: SET is not allowed
SET threads = 1

-- error: RESET is not allowed
RESET memory_limit

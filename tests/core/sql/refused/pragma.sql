-- error: PRAGMA is not allowed
PRAGMA database_list

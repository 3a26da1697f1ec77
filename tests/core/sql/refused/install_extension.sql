-- error: INSTALL is not allowed
INSTALL httpfs

-- error: CALL is not allowed
CALL pragma_version()
